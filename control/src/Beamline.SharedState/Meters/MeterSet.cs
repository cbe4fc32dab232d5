using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Beamline.SharedState.Meters;

/// <summary>
/// The meters of this control plane, and the background flusher that writes their settled usage
/// back and returns idle allowances (a dedicated thread: the writes block, like the request path's).
/// </summary>
internal sealed partial class MeterSet(MeterStore store, TimeProvider time, ILogger<MeterSet> logger) : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, SharedMeter> _meters = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Thread? _thread;

    public MeterStore Store => store;

    public SharedMeter Get(string key, MeterKind kind)
        => _meters.TryGetValue(key, out var meter) ? meter : _meters.GetOrAdd(key, static (k, s) => new SharedMeter(s.store, k, s.kind), (store, kind));

    /// <summary>Drops a meter after giving back what it holds (best effort).</summary>
    public void Drop(string key)
    {
        if (_meters.TryRemove(key, out var meter))
        {
            meter.Flush(MeterClock.From(time.GetUtcNow()), final: true);
        }
    }

    /// <summary>Flushes every meter once (the flusher's step; tests call it).</summary>
    public void FlushAll(bool final = false)
    {
        var now = MeterClock.From(time.GetUtcNow());
        foreach (var (_, meter) in _meters)
        {
            meter.Flush(now, final);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A meter whose allowance is spent blocks its request thread for one KV round trip, while
        // the NATS client needs pool threads to complete it: a floor of threads keeps a burst of
        // such waits from starving the pool (the usual remedy for sync-over-async, as with Redis clients).
        EnsureThreadFloor(store.Options.MinWorkerThreads);
        // Create the bucket now rather than on the first request (NATS may be down: not awaited).
        _ = WarmUpAsync();
        _thread = new Thread(Loop) { IsBackground = true, Name = "beamline-meter-flush" };
        _thread.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(2));
        try
        {
            // Give back the allowances so that the other control planes can use them at once.
            FlushAll(final: true);
        }
#pragma warning disable CA1031 // Stopping: NATS may be gone already.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        return Task.CompletedTask;
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>Raises the thread pool's floor of worker threads to <paramref name="minWorkerThreads"/> (never lowers it).</summary>
    public static void EnsureThreadFloor(int minWorkerThreads = 512)
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, minWorkerThreads), io);
    }

    private async Task WarmUpAsync()
    {
        try
        {
            await store.WarmUpAsync(_stopping.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // NATS down at start: the first use creates the bucket.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogFlushFailed(error);
        }
    }

    private void Loop()
    {
        var interval = store.Options.FlushInterval;
        while (!_stopping.Token.WaitHandle.WaitOne(interval))
        {
            try
            {
                FlushAll();
            }
#pragma warning disable CA1031 // The flusher must outlive any one failure.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogFlushFailed(error);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Shared counters: a flush failed.")]
    private partial void LogFlushFailed(Exception error);
}
