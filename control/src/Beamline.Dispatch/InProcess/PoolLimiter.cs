using System.Collections.Frozen;

namespace Beamline.Dispatch.InProcess;

/// <summary>
/// Admission per pool for in-process blocks, as a worker does it: a pool runs at most its
/// capacity at once, lets at most <c>queueLimit</c> wait, and refuses the rest at once — a block
/// never waits unbounded.
/// </summary>
internal sealed class PoolLimiter : IDisposable
{
    private readonly FrozenDictionary<string, Pool> _pools;

    public PoolLimiter(IReadOnlyDictionary<string, int> capacities, int queueLimit)
    {
        var pools = new Dictionary<string, Pool>(StringComparer.Ordinal);
        foreach (var (name, capacity) in capacities)
        {
            if (capacity > 0)
            {
                pools[name] = new Pool(capacity, queueLimit);
            }
        }
        _pools = pools.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The pools offered, with their capacity and current use.</summary>
    public IEnumerable<(string Name, int Capacity, int InFlight, int Queued)> Snapshot()
    {
        foreach (var (name, pool) in _pools)
        {
            yield return (name, pool.Capacity, pool.Capacity - pool.Slots.CurrentCount, Volatile.Read(ref pool.Waiting));
        }
    }

    /// <summary>
    /// Takes a slot in <paramref name="pool"/>. Completes synchronously when one is free; answers
    /// a refusal when the pool is not offered or its queue is full.
    /// </summary>
    public ValueTask<Admission> EnterAsync(string pool, CancellationToken cancellationToken)
    {
        if (!_pools.TryGetValue(pool, out var p))
        {
            return ValueTask.FromResult(Admission.NotOffered);
        }
        if (p.Slots.Wait(0, CancellationToken.None))
        {
            return ValueTask.FromResult(Admission.Entered(p));
        }
        return WaitAsync(p, cancellationToken);
    }

    private static async ValueTask<Admission> WaitAsync(Pool pool, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref pool.Waiting) > pool.QueueLimit)
        {
            Interlocked.Decrement(ref pool.Waiting);
            return Admission.Full;
        }
        try
        {
            await pool.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            return Admission.Entered(pool);
        }
        finally
        {
            Interlocked.Decrement(ref pool.Waiting);
        }
    }

    public void Dispose()
    {
        foreach (var pool in _pools.Values)
        {
            pool.Slots.Dispose();
        }
    }

    internal sealed class Pool(int capacity, int queueLimit)
    {
        public readonly SemaphoreSlim Slots = new(capacity, capacity);
        public readonly int Capacity = capacity;
        public readonly int QueueLimit = queueLimit;
        public int Waiting;
    }

    /// <summary>The outcome of <see cref="EnterAsync"/>; dispose it to give the slot back.</summary>
    internal readonly struct Admission : IDisposable
    {
        private readonly Pool? _pool;
        private readonly AdmissionState _state;

        private Admission(Pool? pool, AdmissionState state)
        {
            _pool = pool;
            _state = state;
        }

        public static Admission NotOffered => new(null, AdmissionState.NotOffered);

        public static Admission Full => new(null, AdmissionState.Full);

        public AdmissionState State => _state;

        public static Admission Entered(Pool pool) => new(pool, AdmissionState.Entered);

        public void Dispose() => _pool?.Slots.Release();
    }

    internal enum AdmissionState
    {
        Entered,
        NotOffered,
        Full,
    }
}
