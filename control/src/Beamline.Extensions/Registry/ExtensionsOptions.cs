using Microsoft.Extensions.Options;

namespace Beamline.Extensions.Registry;

/// <summary>The extension registry's sources. Bound from <c>Beamline:Extensions</c>.</summary>
public sealed class ExtensionsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Extensions";

    /// <summary>
    /// A directory of entry files (<c>*.json</c>, one entry each, the upstream CP1 form), watched
    /// and reloaded on change; a relative path is resolved against the working directory.
    /// Defaults to null: no directory entries.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>
    /// Where the admin API stores entries (one <c>&lt;id&gt;.json</c> each, written atomically).
    /// Defaults to null: <c>&lt;data directory&gt;/extensions</c> in the host; with neither, admin
    /// writes are kept in memory only.
    /// </summary>
    public string? StoreDirectory { get; set; }

    /// <summary>Whether <see cref="Directory"/> is watched for changes. Defaults to true.</summary>
    public bool WatchDirectory { get; set; } = true;

    /// <summary>
    /// How long the directory must be quiet after a change before it is reloaded, so that an
    /// editor's write-rename-delete is read once. Defaults to 250 ms.
    /// </summary>
    public TimeSpan ReloadDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>Validates <see cref="ExtensionsOptions"/> at start.</summary>
public sealed class ExtensionsOptionsValidator : IValidateOptions<ExtensionsOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ExtensionsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Directory is { } directory && string.IsNullOrWhiteSpace(directory))
        {
            failures.Add($"{ExtensionsOptions.SectionName}:Directory must not be blank (leave it out for none)");
        }
        if (options.StoreDirectory is { } store && string.IsNullOrWhiteSpace(store))
        {
            failures.Add($"{ExtensionsOptions.SectionName}:StoreDirectory must not be blank (leave it out for the default)");
        }
        if (options.ReloadDelay < TimeSpan.Zero || options.ReloadDelay > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{ExtensionsOptions.SectionName}:ReloadDelay must be between 0 and 1 minute");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
