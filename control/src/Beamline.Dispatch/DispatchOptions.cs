using Microsoft.Extensions.Options;

namespace Beamline.Dispatch;

/// <summary>
/// Where and how blocks run. Bound from the <c>Beamline</c> configuration section
/// (<c>Beamline:Nats:Url</c>, <c>Beamline:InProcess:Pools:cpu</c>, ...).
/// </summary>
public sealed class DispatchOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Beamline";

    /// <summary>The distributed path. Defaults to none: blocks run in-process.</summary>
    public NatsDispatchOptions Nats { get; set; } = new();

    /// <summary>The embedded path.</summary>
    public InProcessDispatchOptions InProcess { get; set; } = new();

    /// <summary>The timeout of a NATS provider call whose entry sets no <c>timeout_ms</c>. Defaults to 30 seconds.</summary>
    public TimeSpan DefaultDeadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest any block may run, in-process and over NATS alike; a block that sets no deadline
    /// (<c>deadline_ms = 0</c>) gets it, and a longer one is cut to it. Defaults to 60 seconds.
    /// </summary>
    public TimeSpan MaxDeadline { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A <see cref="MaxDeadline"/> per pool (e.g. a longer one for <c>gpu</c>). Defaults to none.</summary>
    public Dictionary<string, TimeSpan> PoolMaxDeadlines { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The deadline a block on <paramref name="pool"/> that asks for <paramref name="requestedMs"/> gets, in milliseconds.</summary>
    public uint EffectiveDeadlineMs(string pool, uint requestedMs)
    {
        var max = PoolMaxDeadlines.TryGetValue(pool, out var perPool) ? perPool : MaxDeadline;
        var maxMs = (uint)Math.Clamp(max.TotalMilliseconds, 1, uint.MaxValue);
        return requestedMs == 0 ? maxMs : Math.Min(requestedMs, maxMs);
    }
}

/// <summary>Dispatch over NATS to <c>beamline-worker</c> processes.</summary>
public sealed class NatsDispatchOptions
{
    /// <summary>
    /// The NATS server(s), e.g. <c>nats://127.0.0.1:4222</c>. Defaults to null: in-process. The
    /// connection itself (credentials, TLS, reconnects) is <c>Beamline:Nats</c> of Beamline.Nats.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>
    /// Added to a block's deadline when waiting for its reply, so that the worker's own
    /// <c>deadline_exceeded</c> result (which says more) arrives before the request times out.
    /// Defaults to 100 ms.
    /// </summary>
    public TimeSpan ReplyGrace { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>Executors loaded into the control plane through the C ABI.</summary>
public sealed class InProcessDispatchOptions
{
    /// <summary>
    /// Concurrent blocks per pool. Defaults to cpu = processor count and io = 64; a pool that is
    /// not listed (gpu unless configured) is not offered and answers <c>resource_unavailable</c>.
    /// </summary>
    public Dictionary<string, int> Pools { get; set; } = new(StringComparer.Ordinal)
    {
        ["cpu"] = Environment.ProcessorCount,
        ["io"] = 64,
    };

    /// <summary>Blocks that may wait for a slot per pool before new ones are refused. Defaults to 1024.</summary>
    public int QueueLimit { get; set; } = 1024;

    /// <summary>
    /// Blocks of an asynchronous type (<c>http.request</c>) that may run at once on the runtime's event thread,
    /// outside the pools' threads: a thousand slow upstream calls hold one thread, not a thousand. Past it, such a
    /// block is refused with <c>resource_unavailable</c> at once. 0 runs every block on its pool's threads.
    /// Defaults to 4096.
    /// </summary>
    public int AsyncLimit { get; set; } = 4096;

    /// <summary>A folder whose native plugins (*.so) are loaded at start. Defaults to none.</summary>
    public string? PluginDirectory { get; set; }

    /// <summary>
    /// A JSON file with the executor configuration: one object per executor family
    /// (<c>"fs"</c>, <c>"sql"</c>, <c>"http"</c>, <c>"cpu"</c>, <c>"gpu"</c>), as described in
    /// docs/executors.md. Defaults to none (every executor uses its defaults).
    /// </summary>
    public string? ExecutorConfigFile { get; set; }

    /// <summary>
    /// The parent of every tenant's <c>fs.*</c>/<c>sql.*</c> sandbox, given to the executors as
    /// <c>fs.root</c> when <see cref="ExecutorConfigFile"/> names none. Defaults to null: the
    /// executors' own default; <c>beamline serve</c> sets <c>&lt;data directory&gt;/sandbox</c>.
    /// </summary>
    public string? FsRoot { get; set; }
}

/// <summary>Validates <see cref="DispatchOptions"/> at start.</summary>
public sealed class DispatchOptionsValidator : IValidateOptions<DispatchOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DispatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.DefaultDeadline <= TimeSpan.Zero)
        {
            failures.Add("Beamline:DefaultDeadline must be positive.");
        }
        if (options.MaxDeadline <= TimeSpan.Zero)
        {
            failures.Add("Beamline:MaxDeadline must be positive.");
        }
        foreach (var (pool, max) in options.PoolMaxDeadlines)
        {
            if (max <= TimeSpan.Zero)
            {
                failures.Add($"Beamline:PoolMaxDeadlines:{pool} must be positive.");
            }
        }
        foreach (var (pool, capacity) in options.InProcess.Pools)
        {
            if (!PoolNames.IsValid(pool))
            {
                failures.Add($"Beamline:InProcess:Pools: '{pool}' is not a valid pool name ({PoolNames.Rule}).");
            }
            if (capacity < 0)
            {
                failures.Add($"Beamline:InProcess:Pools:{pool} must not be negative.");
            }
        }
        if (options.InProcess.QueueLimit < 0)
        {
            failures.Add("Beamline:InProcess:QueueLimit must not be negative.");
        }
        if (options.InProcess.AsyncLimit < 0)
        {
            failures.Add("Beamline:InProcess:AsyncLimit must not be negative.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
