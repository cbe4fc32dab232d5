using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Beamline.Dispatch.InProcess;

/// <summary>
/// The in-process pools, as a worker has them: each pool runs its blocks on threads of its own
/// (as many as its capacity), never on the thread pool that serves HTTP and NATS, so a pool full
/// of slow blocks cannot starve requests or other pools. At most <c>queueLimit</c> blocks wait
/// per pool; past that a block is refused at once — none waits unbounded.
/// </summary>
internal sealed class PoolThreads : IDisposable
{
    private readonly FrozenDictionary<string, Pool> _pools;

    public PoolThreads(IReadOnlyDictionary<string, int> capacities, int queueLimit)
    {
        var pools = new Dictionary<string, Pool>(StringComparer.Ordinal);
        foreach (var (name, capacity) in capacities)
        {
            if (capacity > 0)
            {
                pools[name] = new Pool(name, capacity, queueLimit);
            }
        }
        _pools = pools.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The pools offered, with their capacity and current use.</summary>
    public IEnumerable<(string Name, int Capacity, int InFlight, int Queued)> Snapshot()
    {
        foreach (var (name, pool) in _pools)
        {
            yield return (name, pool.Capacity, Volatile.Read(ref pool.Running), pool.Queue.Count);
        }
    }

    /// <summary>Whether <paramref name="pool"/> is offered (listed with a capacity above 0).</summary>
    public bool Offers(string pool) => _pools.ContainsKey(pool);

    /// <summary>Hands <paramref name="work"/> to <paramref name="pool"/>'s threads, or says why not.</summary>
    public Admission TryEnqueue(string pool, PoolWork work)
    {
        if (!_pools.TryGetValue(pool, out var p))
        {
            return Admission.NotOffered;
        }
        return p.Queue.TryAdd(work) ? Admission.Queued : Admission.Full;
    }

    /// <summary>Stops taking work, runs what is queued, and waits (bounded) for the threads.</summary>
    public void Dispose()
    {
        foreach (var pool in _pools.Values)
        {
            pool.Queue.CompleteAdding();
        }
        foreach (var pool in _pools.Values)
        {
            foreach (var thread in pool.Threads)
            {
                thread.Join(TimeSpan.FromSeconds(5));
            }
        }
    }

    /// <summary>What a pool thread runs: the block, or its refusal when it was cancelled while queued.</summary>
    internal abstract class PoolWork
    {
        public abstract void Run();
    }

    internal enum Admission
    {
        Queued,
        NotOffered,
        Full,
    }

    private sealed class Pool
    {
        public readonly BlockingCollection<PoolWork> Queue;
        public readonly int Capacity;
        public readonly Thread[] Threads;
        public int Running;

        public Pool(string name, int capacity, int queueLimit)
        {
            Capacity = capacity;
            // A queue limit of 0 still lets a block wait the moment it takes an idle thread to wake.
            Queue = new BlockingCollection<PoolWork>(new ConcurrentQueue<PoolWork>(), Math.Max(1, queueLimit));
            Threads = new Thread[capacity];
            for (var i = 0; i < capacity; i++)
            {
                Threads[i] = new Thread(Loop) { IsBackground = true, Name = $"beamline-{name}-{i}" };
                Threads[i].Start();
            }
        }

        private void Loop()
        {
            foreach (var work in Queue.GetConsumingEnumerable())
            {
                Interlocked.Increment(ref Running);
                try
                {
                    work.Run();
                }
                finally
                {
                    Interlocked.Decrement(ref Running);
                }
            }
        }
    }
}
