namespace Beamline.Tenancy.Quotas;

/// <summary>
/// The usage of one level (a tenant, a team or an API key): the requests of the sliding minute,
/// in sixty one-second buckets, and the requests in flight.
/// </summary>
/// <remarks>
/// One-second buckets make the window exact to the second (a request leaves it 60 to 61 seconds
/// after it was counted) for 240 bytes per level, whatever the limit; a log of timestamps would
/// grow with the limit. The window takes a tiny lock per level; in-flight counting is lock-free.
/// </remarks>
internal sealed class QuotaCounter : QuotaMeter
{
    /// <summary>The length of the window, in seconds.</summary>
    public const int WindowSeconds = 60;

    private readonly Lock _lock = new();
    private readonly int[] _buckets = new int[WindowSeconds];
    private long _newest;
    private int _total;
    private int _inFlight;

    /// <summary>Requests counted in the window ending at the newest second seen.</summary>
    public int InWindow
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>Requests in flight.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Counts one request at <paramref name="second"/> unless the window already holds
    /// <paramref name="limit"/>. <paramref name="charged"/> is the second counted (for
    /// <see cref="Untake"/>); when refused, <paramref name="retryAfterSeconds"/> says when enough
    /// of the window will have slid out for one more request.
    /// </summary>
    public override bool TryTake(long second, int limit, out long charged, out int retryAfterSeconds)
    {
        lock (_lock)
        {
            Advance(second);
            if (_total >= limit)
            {
                charged = 0;
                retryAfterSeconds = SecondsUntilBelow(limit);
                return false;
            }
            // A caller that read the clock before another one took the lock counts in the newest second.
            charged = _newest;
            _buckets[Bucket(charged)]++;
            _total++;
            retryAfterSeconds = 0;
            return true;
        }
    }

    /// <summary>Takes back a request counted by <see cref="TryTake"/> (a later level refused it).</summary>
    public override void Untake(long charged)
    {
        lock (_lock)
        {
            ref var bucket = ref _buckets[Bucket(charged)];
            if (charged > _newest - WindowSeconds && bucket > 0)
            {
                bucket--;
                _total--;
            }
        }
    }

    /// <summary>Takes an in-flight slot unless <paramref name="limit"/> are taken.</summary>
    public override bool TryEnter(int limit)
    {
        if (Interlocked.Increment(ref _inFlight) <= limit)
        {
            return true;
        }
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    /// <summary>Gives back a slot taken by <see cref="TryEnter"/>.</summary>
    public override void Exit() => Interlocked.Decrement(ref _inFlight);

    private static int Bucket(long second) => (int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds);

    // Empties the buckets of the seconds that have left the window.
    private void Advance(long second)
    {
        var gap = second - _newest;
        if (gap <= 0)
        {
            return;
        }
        if (gap >= WindowSeconds)
        {
            Array.Clear(_buckets);
            _total = 0;
        }
        else
        {
            for (var s = _newest + 1; s <= second; s++)
            {
                ref var bucket = ref _buckets[Bucket(s)];
                _total -= bucket;
                bucket = 0;
            }
        }
        _newest = second;
    }

    // The oldest bucket leaves the window in 1 second, the next in 2, ...
    private int SecondsUntilBelow(int limit)
    {
        var remaining = _total;
        for (var i = 0; i < WindowSeconds; i++)
        {
            remaining -= _buckets[Bucket(_newest - WindowSeconds + 1 + i)];
            if (remaining < limit)
            {
                return i + 1;
            }
        }
        return WindowSeconds;
    }
}
