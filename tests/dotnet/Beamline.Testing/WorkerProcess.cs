using System.Globalization;

namespace Beamline.Testing;

/// <summary>A real beamline-worker process connected to a NATS server.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private WorkerProcess(ChildProcess process, string workerId)
    {
        Process = process;
        WorkerId = workerId;
    }

    /// <summary>The underlying process (for SIGTERM and its output).</summary>
    public ChildProcess Process { get; }

    /// <summary>The id it reports in results and heartbeats.</summary>
    public string WorkerId { get; }

    /// <summary>
    /// Starts a worker and waits for its ready line. Tests get the diagnostic executors
    /// (<c>debug.sleep</c>): they stand in for slow work.
    /// </summary>
    public static Task<WorkerProcess> StartAsync(string natsUrl, string workerId, IEnumerable<string>? pools = null, params string[] extraArgs)
        => StartAsync(null, natsUrl, workerId, pools, extraArgs);

    /// <summary>As the other overload, with these environment variables set for the worker.</summary>
    public static async Task<WorkerProcess> StartAsync(IReadOnlyDictionary<string, string>? environment, string natsUrl, string workerId,
        IEnumerable<string>? pools = null, params string[] extraArgs)
    {
        var args = new List<string> { "--nats", natsUrl, "--worker-id", workerId, "--heartbeat-ms", "500", "--enable-diagnostics" };
        foreach (var pool in pools ?? ["cpu=2"])
        {
            args.Add("--pool");
            args.Add(pool);
        }
        args.AddRange(extraArgs);
        var process = ChildProcess.Start(RepoPaths.Program("beamline-worker"), args, environment);
        try
        {
            await process.WaitForLineAsync("beamline-worker ready", TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
        catch
        {
            await process.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new WorkerProcess(process, workerId);
    }

    /// <summary>A unique worker id for a test.</summary>
    public static string NewId(string prefix) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Guid.NewGuid():N}")[..Math.Min(prefix.Length + 13, 40)];

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
