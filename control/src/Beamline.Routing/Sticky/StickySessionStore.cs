using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Beamline.Routing.Shared;

namespace Beamline.Routing.Sticky;

/// <summary>A session: the tenant, the policy and the value of the policy's session key.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="PolicyId">The policy.</param>
/// <param name="Session">The session key's value from the request context.</param>
public readonly record struct StickyKey(string TenantId, string PolicyId, string Session);

/// <summary>
/// Which provider each sticky session was given and until when. Bounded memory: a concurrent map
/// capped at <c>capacity</c> entries. An entry expires at a fixed time (assignment + TTL; a hit
/// does not extend it, so hits never write); an expired entry is dropped when it is next read.
/// When an insert takes the map over its capacity, one thread sweeps it: first every expired
/// entry, then, if still above 90 % of capacity, arbitrary entries in the map's hash order
/// (an effectively random eviction, like Redis's allkeys-random) down to 90 %. Sweeps are O(n)
/// but at most one per 10 % of capacity inserted, so the cost per insert stays constant.
/// </summary>
public sealed class StickySessionStore
{
    private readonly ConcurrentDictionary<StickyKey, Entry> _map = new();
    private readonly int _capacity;
    private int _count;
    private int _sweeping;
    private Shared? _shared;

    /// <summary>Creates a store holding at most <paramref name="capacity"/> sessions.</summary>
    public StickySessionStore(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    /// <summary>The maximum number of sessions kept.</summary>
    public int Capacity => _capacity;

    /// <summary>The number of sessions held (approximate under concurrency).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Publishes every session assigned from now on to <paramref name="share"/> and, for a session
    /// this process does not hold, asks it for one another control plane assigned.
    /// <paramref name="time"/> is the clock whose timestamps <see cref="Set"/> is given.
    /// </summary>
    public void Attach(IRoutingStateShare share, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(share);
        ArgumentNullException.ThrowIfNull(time);
        Volatile.Write(ref _shared, new Shared(share, time));
    }

    /// <summary>The provider of a live session; an expired one is removed and not returned.</summary>
    public bool TryGet(in StickyKey key, long now, [MaybeNullWhen(false)] out string providerId)
    {
        if (TryGetLocal(key, now, out providerId))
        {
            return true;
        }
        return Volatile.Read(ref _shared) is { } shared && shared.Share.TryGetSession(key, out providerId);
    }

    private bool TryGetLocal(in StickyKey key, long now, [MaybeNullWhen(false)] out string providerId)
    {
        if (_map.TryGetValue(key, out var entry))
        {
            if (now < entry.ExpiresAt)
            {
                providerId = entry.ProviderId;
                return true;
            }
            if (_map.TryRemove(new KeyValuePair<StickyKey, Entry>(key, entry)))
            {
                Interlocked.Decrement(ref _count);
            }
        }
        providerId = null;
        return false;
    }

    /// <summary>Assigns <paramref name="providerId"/> to a session until <paramref name="expiresAt"/> (a timestamp).</summary>
    public void Set(in StickyKey key, string providerId, long expiresAt, long now)
    {
        var entry = new Entry(providerId, expiresAt);
        if (Volatile.Read(ref _shared) is { } shared)
        {
            var ttl = shared.Time.GetElapsedTime(now, expiresAt);
            shared.Share.PublishSession(key, providerId, shared.Time.GetUtcNow() + ttl);
        }
        if (_map.TryAdd(key, entry))
        {
            if (Interlocked.Increment(ref _count) > _capacity)
            {
                Sweep(now);
            }
            return;
        }
        _map[key] = entry;
    }

    /// <summary>Forgets a session.</summary>
    public void Remove(in StickyKey key)
    {
        if (_map.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private void Sweep(long now)
    {
        if (Interlocked.CompareExchange(ref _sweeping, 1, 0) != 0)
        {
            return;
        }
        try
        {
            foreach (var pair in _map)
            {
                if (pair.Value.ExpiresAt <= now && _map.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
            var target = _capacity - _capacity / 10;
            if (Volatile.Read(ref _count) <= target)
            {
                return;
            }
            foreach (var pair in _map)
            {
                if (_map.TryRemove(pair) && Interlocked.Decrement(ref _count) <= target)
                {
                    break;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private sealed record Entry(string ProviderId, long ExpiresAt);

    private sealed record Shared(IRoutingStateShare Share, TimeProvider Time);
}
