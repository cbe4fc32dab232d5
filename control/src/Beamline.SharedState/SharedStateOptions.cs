using System.Globalization;
using Microsoft.Extensions.Options;

namespace Beamline.SharedState;

/// <summary>
/// State shared by the control planes on one NATS (JetStream KV), bound from
/// <c>Beamline:SharedState</c>. It is on when <c>Beamline:Nats:Url</c> is set, unless
/// <see cref="Enabled"/> is false; without NATS every control plane keeps its own state.
/// </summary>
public sealed class SharedStateOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Beamline:SharedState";

    /// <summary>Whether state is shared when NATS is configured. Defaults to true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The bucket of budget and quota counters. Defaults to "beamline-counters".</summary>
    public string CountersBucket { get; set; } = "beamline-counters";

    /// <summary>The bucket of breaker states and sticky sessions. Defaults to "beamline-routing".</summary>
    public string RoutingBucket { get; set; } = "beamline-routing";

    /// <summary>The bucket of the configuration (tenancy, policies, providers). Defaults to "beamline-config".</summary>
    public string ConfigBucket { get; set; } = "beamline-config";

    /// <summary>
    /// This control plane's name in the counters (whose allowances are whose). Defaults to the
    /// machine name, the process id and a random suffix: unique per process.
    /// </summary>
    public string InstanceId { get; set; } = string.Create(CultureInfo.InvariantCulture,
        $"{Environment.MachineName}-{Environment.ProcessId}-{Random.Shared.Next(0x10000):x4}");

    /// <summary>
    /// The share of a limit one control plane takes from the shared counter at a time and then
    /// grants locally, in percent (1-100). Larger: fewer round trips to NATS; smaller: less of a
    /// limit idle in one control plane's hands. Defaults to 5.
    /// </summary>
    public int AllowancePercent { get; set; } = 5;

    /// <summary>How often settled usage is written back and idle allowances are returned. Defaults to 100 ms.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long an allowance stays with a control plane that grants nothing from it. Defaults to 1 s.</summary>
    public TimeSpan IdleReturn { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the allowance of a control plane that stopped writing (it died) still counts;
    /// a live one refreshes its own every third of this. Defaults to 30 s.
    /// </summary>
    public TimeSpan HolderTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a request waits for one KV operation before treating NATS as unavailable. Defaults to 1 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The floor of thread pool worker threads while state is shared. A reservation whose
    /// allowance is spent blocks its request thread for one KV round trip (the budget and quota
    /// ports are synchronous), and the NATS client needs a pool thread to complete it: under a
    /// burst of such reservations a low floor starves the pool and round trips time out. Raised
    /// (never lowered) at start. Defaults to 512.
    /// </summary>
    public int MinWorkerThreads { get; set; } = 512;

    /// <summary>How long sticky sessions and breaker states are kept in the routing bucket (its max age). Defaults to 1 h.</summary>
    public TimeSpan RoutingMaxAge { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>Validates <see cref="SharedStateOptions"/> at start.</summary>
public sealed class SharedStateOptionsValidator : IValidateOptions<SharedStateOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SharedStateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var (field, bucket) in new[] { ("CountersBucket", options.CountersBucket), ("RoutingBucket", options.RoutingBucket), ("ConfigBucket", options.ConfigBucket) })
        {
            if (string.IsNullOrEmpty(bucket) || !bucket.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                failures.Add($"Beamline:SharedState:{field} '{bucket}' is not a bucket name (letters, digits, '-' and '_').");
            }
        }
        if (string.IsNullOrEmpty(options.InstanceId))
        {
            failures.Add("Beamline:SharedState:InstanceId must not be empty.");
        }
        if (options.MinWorkerThreads is < 1 or > 32_767)
        {
            failures.Add("Beamline:SharedState:MinWorkerThreads must be 1 to 32767.");
        }
        if (options.AllowancePercent is < 1 or > 100)
        {
            failures.Add("Beamline:SharedState:AllowancePercent must be 1 to 100.");
        }
        foreach (var (field, value) in new[] { ("FlushInterval", options.FlushInterval), ("IdleReturn", options.IdleReturn),
            ("HolderTimeout", options.HolderTimeout), ("OperationTimeout", options.OperationTimeout), ("RoutingMaxAge", options.RoutingMaxAge) })
        {
            if (value <= TimeSpan.Zero)
            {
                failures.Add($"Beamline:SharedState:{field} must be positive.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
