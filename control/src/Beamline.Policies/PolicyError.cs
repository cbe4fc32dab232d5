using System.Collections.Immutable;

namespace Beamline.Policies;

/// <summary>One problem found in a policy file.</summary>
/// <param name="File">The file (or source name) the policy came from.</param>
/// <param name="Path">The JSON path of the offending value, e.g. <c>$.fallbacks[1].when.status[0]</c>.</param>
/// <param name="Message">What is wrong, in words.</param>
public sealed record PolicyError(string File, string Path, string Message)
{
    /// <summary>The line (from 1) of an error in policy-language source; 0 for JSON policies.</summary>
    public int Line { get; init; }

    /// <summary>The column (from 1) of an error in policy-language source; 0 for JSON policies.</summary>
    public int Column { get; init; }

    /// <summary>An error at a line and column of policy-language source (its path is <c>line:column</c>).</summary>
    public static PolicyError At(string file, int line, int column, string message) =>
        new(file, $"{line}:{column}", message) { Line = line, Column = column };

    /// <summary><c>file: path: message</c>.</summary>
    public override string ToString() => $"{File}: {Path}: {Message}";
}

/// <summary>Thrown by <see cref="PolicyLoader.LoadOrThrow(string)"/> and <see cref="PolicySet"/> with every error found.</summary>
public sealed class PolicyValidationException : Exception
{
    /// <summary>Creates the exception with every error found.</summary>
    public PolicyValidationException(ImmutableArray<PolicyError> errors)
        : base(FormatMessage(errors)) => Errors = errors;

    /// <summary>Every error found, in document order.</summary>
    public ImmutableArray<PolicyError> Errors { get; }

    private static string FormatMessage(ImmutableArray<PolicyError> errors) =>
        errors.IsDefaultOrEmpty
            ? "The policy is invalid."
            : $"{errors.Length} policy error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}";
}

/// <summary>The outcome of loading one policy: the policy, or every error found.</summary>
public sealed record PolicyLoadResult
{
    /// <summary>The policy when <see cref="Errors"/> is empty; otherwise null.</summary>
    public Policy? Policy { get; init; }

    /// <summary>Every error found, in document order; empty when the policy is valid.</summary>
    public ImmutableArray<PolicyError> Errors { get; init; } = [];

    /// <summary>True when the policy loaded.</summary>
    public bool IsValid => Policy is not null && Errors.IsEmpty;
}
