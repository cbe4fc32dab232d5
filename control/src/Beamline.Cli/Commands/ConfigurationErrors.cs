using Beamline.Policies;
using Beamline.Tenancy;
using Microsoft.Extensions.Options;

namespace Beamline.Cli.Commands;

/// <summary>
/// Configuration mistakes as an operator should see them: one line on stderr naming the file, the
/// JSON path and the rule, and exit code 2 — not a host crash with a stack trace.
/// </summary>
internal static class ConfigurationErrors
{
    /// <summary>The exit code of a configuration error (as for bad arguments).</summary>
    public const int ExitCode = 2;

    /// <summary>The one-line description of <paramref name="error"/> when it is a configuration error; otherwise null.</summary>
    public static string? Describe(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var text = error switch
        {
            // The tenancy reader says "<file>: <json path>: <rule>"; the configuration file loader
            // says which file, and its inner JsonException where in it.
            InvalidDataException { InnerException: System.Text.Json.JsonException or FormatException } e => WithInner(e),
            InvalidDataException e => e.Message,
            OptionsValidationException e => $"{e.OptionsType.Name}: {e.Message}",
            TenancyException e => e.Message,
            Beamline.Host.State.StateDirectoryException e => e.Message,
            PolicyValidationException e => e.Message,
            InvalidOperationException e when e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
                => WithInner(e),
            _ => null,
        };
        return text is null ? null : "configuration error: " + OneLine(text);
    }

    // The outer message says which file or key; the inner ones what is wrong and where.
    private static string WithInner(Exception error)
    {
        var text = error.Message;
        for (var inner = error.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += " " + inner.Message;
        }
        return text;
    }

    private static string OneLine(string text)
        => string.Join("; ", text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
