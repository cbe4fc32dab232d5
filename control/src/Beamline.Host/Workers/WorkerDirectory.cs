using System.Collections.Concurrent;
using Beamline.Worker.V2;

namespace Beamline.Host.Workers;

/// <summary>One worker as its last heartbeat showed it.</summary>
/// <param name="WorkerId">The worker's id.</param>
/// <param name="Version">The worker's version.</param>
/// <param name="Draining">Whether it has stopped taking work (SIGTERM) and is finishing what it has.</param>
/// <param name="Executors">The block types it runs.</param>
/// <param name="Pools">Its pools: capacity, in flight, queued, stuck and replaced runners.</param>
/// <param name="SeenAt">When the control plane received the heartbeat.</param>
internal sealed record WorkerView(string WorkerId, string Version, bool Draining, IReadOnlyList<string> Executors, IReadOnlyList<PoolView> Pools,
    DateTimeOffset SeenAt);

/// <summary>One pool of a worker.</summary>
/// <param name="Name">The pool's name.</param>
/// <param name="Capacity">Its runners.</param>
/// <param name="InFlight">Blocks running.</param>
/// <param name="Queued">Blocks waiting.</param>
/// <param name="Stuck">Runners given up on past a block's deadline plus the worker's grace, whose threads still run.</param>
/// <param name="Replaced">Runners replaced since the worker started (stuck, or ended by a fault).</param>
internal readonly record struct PoolView(string Name, uint Capacity, uint InFlight, uint Queued, uint Stuck, ulong Replaced);

/// <summary>
/// The workers on the bus, from their heartbeats (<c>caf.worker.heartbeat.v2</c>): the last one
/// of each worker, kept while it keeps coming. A worker silent for <see cref="AliveWithin"/> is
/// shown as gone; one silent for <see cref="ForgetAfter"/> is dropped, so the directory is bounded
/// by the workers actually running (and by <see cref="MaxWorkers"/>, against a flood of ids).
/// </summary>
internal sealed class WorkerDirectory(TimeProvider time)
{
    /// <summary>A worker heard from within this is alive (heartbeats come every 2 s by default).</summary>
    public static readonly TimeSpan AliveWithin = TimeSpan.FromSeconds(10);

    /// <summary>A worker silent this long is forgotten.</summary>
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(2);

    /// <summary>The most workers kept; heartbeats of further new ids are ignored until some are forgotten.</summary>
    public const int MaxWorkers = 1_000;

    private readonly ConcurrentDictionary<string, WorkerView> _workers = new(StringComparer.Ordinal);

    /// <summary>Heartbeats ignored: malformed, without a worker id, or past <see cref="MaxWorkers"/>.</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    private long _ignored;

    /// <summary>Records a heartbeat.</summary>
    public void Observe(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (heartbeat.WorkerId.Length == 0 || (_workers.Count >= MaxWorkers && !_workers.ContainsKey(heartbeat.WorkerId) && Forget() == 0))
        {
            Interlocked.Increment(ref _ignored);
            return;
        }
        var pools = new PoolView[heartbeat.Pools.Count];
        for (var i = 0; i < pools.Length; i++)
        {
            var pool = heartbeat.Pools[i];
            pools[i] = new PoolView(pool.Name, pool.Capacity, pool.InFlight, pool.Queued, pool.Stuck, pool.Replaced);
        }
        _workers[heartbeat.WorkerId] = new WorkerView(heartbeat.WorkerId, heartbeat.Version, heartbeat.Draining, [.. heartbeat.Executors], pools,
            time.GetUtcNow());
    }

    /// <summary>Counts a heartbeat that could not be read.</summary>
    public void Malformed() => Interlocked.Increment(ref _ignored);

    /// <summary>The workers heard from within <see cref="ForgetAfter"/>, by id.</summary>
    public IReadOnlyList<WorkerView> Snapshot()
    {
        Forget();
        return [.. _workers.Values.OrderBy(w => w.WorkerId, StringComparer.Ordinal)];
    }

    /// <summary>Whether <paramref name="worker"/> was heard from within <see cref="AliveWithin"/>.</summary>
    public bool IsAlive(WorkerView worker) => time.GetUtcNow() - worker.SeenAt <= AliveWithin;

    private int Forget()
    {
        var now = time.GetUtcNow();
        var forgotten = 0;
        foreach (var (id, worker) in _workers)
        {
            if (now - worker.SeenAt > ForgetAfter && _workers.TryRemove(id, out _))
            {
                forgotten++;
            }
        }
        return forgotten;
    }
}
