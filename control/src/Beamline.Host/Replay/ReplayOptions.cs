using Microsoft.Extensions.Options;

namespace Beamline.Host.Replay;

/// <summary>
/// Request replay (docs/observability.md): which tenants' requests are kept, for how long and how
/// much of each. Bound from <c>Beamline:Replay</c>. Opt-in: with no tenant listed nothing is kept
/// and no database is opened.
/// </summary>
public sealed class ReplayOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Replay";

    /// <summary>The longest <see cref="Retention"/> allowed: 30 days.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(30);

    /// <summary>
    /// The tenants whose requests are kept (their ids). Defaults to none: nobody's requests are kept.
    /// (An array, not a list, because configuration binding appends to a list's items.)
    /// </summary>
    public string[]? Tenants { get; set; }

    /// <summary>How long a kept request stays; older ones are purged. Defaults to 24 hours; at most 30 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The most bytes kept of a request or response body (after masking); a larger one is kept cut
    /// at that size, marked truncated, and cannot be replayed. Defaults to 256 KiB.
    /// </summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// How many finished requests may wait for the writer; when it is full, more are dropped
    /// (counted and logged), never waited for. Defaults to 4096.
    /// </summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>How often kept requests older than <see cref="Retention"/> are purged (also once at start). Defaults to 10 minutes.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Whether any tenant opted in.</summary>
    public bool IsEnabled => Tenants is { Length: > 0 };
}

/// <summary>Validates <see cref="ReplayOptions"/> at start.</summary>
public sealed class ReplayOptionsValidator : IValidateOptions<ReplayOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Retention <= TimeSpan.Zero || options.Retention > ReplayOptions.MaxRetention)
        {
            failures.Add($"Beamline:Replay:Retention is {options.Retention}; it must be more than 0 and at most 30 days (30.00:00:00).");
        }
        if (options.MaxBodyBytes is < 1024 or > 16 * 1024 * 1024)
        {
            failures.Add($"Beamline:Replay:MaxBodyBytes is {options.MaxBodyBytes}; it must be between 1024 and 16777216.");
        }
        if (options.QueueCapacity < 1)
        {
            failures.Add($"Beamline:Replay:QueueCapacity is {options.QueueCapacity}; it must be at least 1.");
        }
        if (options.PurgeInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Beamline:Replay:PurgeInterval is {options.PurgeInterval}; it must be at least 1 second.");
        }
        foreach (var tenant in options.Tenants ?? [])
        {
            if (string.IsNullOrWhiteSpace(tenant))
            {
                failures.Add("Beamline:Replay:Tenants holds an empty tenant id.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
