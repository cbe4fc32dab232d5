using Beamline.Cp1;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Routing;

/// <summary>
/// What a CP1 decide with <c>push_assignment</c> may do. Bound from <c>Beamline:Assignments</c>.
/// </summary>
public sealed class AssignmentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Assignments";

    /// <summary>
    /// The subjects a request's <c>assignment_subject</c> may name; any other is refused with
    /// <c>invalid_request</c>. Defaults to null: only <c>caf.exec.assign.v1</c>. (An array, not a
    /// list with that default, because configuration binding appends to a list's items.)
    /// </summary>
    public string[]? AllowedSubjects { get; set; }

    /// <summary>The allow-list after defaults.</summary>
    public IReadOnlyList<string> EffectiveAllowedSubjects => AllowedSubjects is { Length: > 0 } subjects ? subjects : [DecideRequest.DefaultAssignmentSubject];
}

/// <summary>Validates <see cref="AssignmentOptions"/> at start.</summary>
public sealed class AssignmentOptionsValidator : IValidateOptions<AssignmentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AssignmentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var subject in options.EffectiveAllowedSubjects)
        {
            if (string.IsNullOrEmpty(subject) || subject.AsSpan().IndexOfAny(" \t\r\n*>") >= 0 || subject.StartsWith('$'))
            {
                failures.Add($"Beamline:Assignments:AllowedSubjects: '{subject}' is not a plain NATS subject (no wildcards, spaces or $ system subjects).");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
