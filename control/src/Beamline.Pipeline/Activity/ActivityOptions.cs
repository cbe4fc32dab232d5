using Microsoft.Extensions.Options;

namespace Beamline.Pipeline.Activity;

/// <summary>The activity stream's settings. Bound from <c>Beamline:Activity</c>.</summary>
public sealed class ActivityOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Activity";

    /// <summary>
    /// How many events each subscriber (an SSE reader, the NATS publisher) may have waiting;
    /// beyond that its oldest are dropped and counted. Defaults to 1024.
    /// </summary>
    public int BufferCapacity { get; set; } = 1024;

    /// <summary>
    /// How many of the latest events the bus keeps for a new reader's <c>?history=</c>; 0 keeps
    /// none. Defaults to 256.
    /// </summary>
    public int HistorySize { get; set; } = 256;

    /// <summary>
    /// Whether events are published on <c>beamline.activity.v1.&lt;tenant_id&gt;</c> when NATS is
    /// configured (<c>Beamline:Nats:Url</c>). Defaults to true.
    /// </summary>
    public bool PublishToNats { get; set; } = true;

    /// <summary>How often an idle SSE stream sends a <c>: ping</c> comment. Defaults to 15 seconds.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Validates <see cref="ActivityOptions"/> at start.</summary>
public sealed class ActivityOptionsValidator : IValidateOptions<ActivityOptions>
{
    /// <summary>The largest <see cref="ActivityOptions.BufferCapacity"/> and <see cref="ActivityOptions.HistorySize"/>.</summary>
    public const int MaxCapacity = 1_000_000;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ActivityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.BufferCapacity is < 1 or > MaxCapacity)
        {
            failures.Add($"Beamline:Activity:BufferCapacity must be between 1 and {MaxCapacity} (got {options.BufferCapacity}).");
        }
        if (options.HistorySize is < 0 or > MaxCapacity)
        {
            failures.Add($"Beamline:Activity:HistorySize must be between 0 and {MaxCapacity} (got {options.HistorySize}).");
        }
        if (options.HeartbeatInterval <= TimeSpan.Zero || options.HeartbeatInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"Beamline:Activity:HeartbeatInterval must be positive and at most an hour (got {options.HeartbeatInterval}).");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
