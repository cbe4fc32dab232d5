namespace Beamline.SharedState.Meters;

/// <summary>
/// One shared counter (a KV entry in the counters bucket) and this control plane's allowance of it.
/// </summary>
/// <remarks>
/// <para>
/// The entry holds the settled usage of the current periods and, per control plane, what it holds
/// (<see cref="MeterValue.Holders"/>). Every write is a compare-and-set on the entry's revision.
/// A control plane takes an allowance in one write: its reservations in flight plus up to one
/// chunk (<see cref="SharedStateOptions.AllowancePercent"/> of the limit), never more than the
/// room left (limit − settled − everyone's holdings). It then grants from that allowance locally,
/// without NATS, while any of it is left, adding each reservation whatever its size; once it is
/// spent, the next reservation writes again (checking the limit against the shared total) and
/// takes a new one. What a settle or release frees is not granted again locally: it goes back to
/// the shared counter at the next write, so that one busy control plane cannot keep a limit to itself.
/// </para>
/// <para>
/// The bound: the sum of the holdings plus the settled usage never passes the limit by a grant
/// (each write admits only while the shared total is below the limit, and compare-and-set orders
/// the writes); a control plane can pass its own holding only by the last reservation it admitted
/// locally or by the one its write admitted. So across N control planes a limit is overshot by at
/// most one reservation per control plane.
/// </para>
/// <para>
/// Settled usage is written back by the background flusher every
/// <see cref="SharedStateOptions.FlushInterval"/>; an allowance nobody draws on for
/// <see cref="SharedStateOptions.IdleReturn"/> is given back; a holding not refreshed for
/// <see cref="SharedStateOptions.HolderTimeout"/> (its control plane died) is dropped by the next writer.
/// </para>
/// <para>
/// NATS down: a meter keeps granting from the allowance it holds; beyond it, it refuses (the
/// caller says "unavailable"), and for one second after a failed call it refuses without trying
/// again, so that requests do not queue behind a dead connection. Limits hold while NATS is down.
/// </para>
/// </remarks>
internal sealed class SharedMeter
{
    private const int MaxAttempts = 32;

    private readonly MeterStore _store;
    private readonly MeterKind _kind;
    private readonly string _self;
    private readonly long _holderTimeoutMs;
    private readonly long _idleReturnMs;
    private readonly long _exhaustedForMs;
    private readonly object _gate = new();
    // What the entry says this control plane holds (as of its last write), and the part of it
    // not yet granted: the local allowance. A settle or release does not refill the allowance:
    // what it frees goes back to the shared counter at the next write, for every control plane.
    private long _held;
    private long _allowance;
    private long _reserved;
    private long _pending;
    private long _seedFirst = -1;
    private long _seedSecond = -1;
    private MeterValue? _cached;
    private ulong _revision;
    private long _lastActiveMs;
    private long _lastWriteMs;
    private long _unavailableUntilMs;
    private long _exhaustedUntilMs;
    private MeterRefusal _exhausted;
    private MeterLimits _limits = new(MeterLimits.Unlimited, MeterLimits.Unlimited);

    public SharedMeter(MeterStore store, string key, MeterKind kind)
    {
        _store = store;
        Key = key;
        _kind = kind;
        _self = KvKeys.Token(store.Options.InstanceId);
        _holderTimeoutMs = (long)store.Options.HolderTimeout.TotalMilliseconds;
        _idleReturnMs = (long)store.Options.IdleReturn.TotalMilliseconds;
        _exhaustedForMs = Math.Max(1, (long)store.Options.FlushInterval.TotalMilliseconds);
    }

    /// <summary>The KV key.</summary>
    public string Key { get; }

    /// <summary>Reservations granted from the local allowance (no NATS round trip).</summary>
    public long LocalGrants { get; private set; }

    /// <summary>Compare-and-set writes that succeeded.</summary>
    public long Writes { get; private set; }

    /// <summary>Compare-and-set writes that lost to another control plane's (and were retried).</summary>
    public long Conflicts { get; private set; }

    /// <summary>
    /// Reserves <paramref name="amount"/> unless the limits are reached: from the local allowance,
    /// or with a compare-and-set write when it is spent.
    /// </summary>
    public bool TryTake(in MeterLimits limits, long amount, in MeterClock now, out MeterRefusal refusal)
    {
        refusal = default;
        lock (_gate)
        {
            if (limits != _limits)
            {
                _limits = limits;
                _exhaustedUntilMs = 0;
            }
            _lastActiveMs = now.UnixMs;
            if (!limits.Any || _allowance > 0)
            {
                // Granted whatever its size while some allowance is left: past it by one reservation at most.
                _allowance -= amount;
                _reserved = MeterValue.Sum(_reserved, amount);
                LocalGrants++;
                return true;
            }
            if (now.UnixMs < _exhaustedUntilMs)
            {
                // The shared counter was at its limit a moment ago: refuse without a round trip
                // (under load every refused request would otherwise write).
                refusal = _exhausted;
                return false;
            }
            var result = Sync(limits, amount, now, keep: true);
            refusal = result.Refusal;
            if (result.Written && !result.Admitted)
            {
                _exhausted = result.Refusal;
                _exhaustedUntilMs = now.UnixMs + _exhaustedForMs;
            }
            return result.Admitted;
        }
    }

    /// <summary>Whether the limits are not reached yet (reserves nothing; may take an allowance).</summary>
    public bool Check(in MeterLimits limits, in MeterClock now, out MeterRefusal refusal)
    {
        refusal = default;
        lock (_gate)
        {
            _limits = limits;
            if (!limits.Any || _allowance > 0)
            {
                return true;
            }
            _lastActiveMs = now.UnixMs;
            var result = Sync(limits, 0, now, keep: true);
            refusal = result.Refusal;
            return result.Room > 0;
        }
    }

    /// <summary>Gives back a reservation that was not used.</summary>
    public void Give(long amount)
    {
        lock (_gate)
        {
            _reserved = Math.Max(0, _reserved - amount);
            _exhaustedUntilMs = 0;
        }
    }

    /// <summary>Turns a reservation into settled usage: (settled before, after) in the first and second period, as far as known here.</summary>
    public (long FirstBefore, long FirstAfter, long SecondBefore, long SecondAfter) Settle(long reserved, long actual)
    {
        lock (_gate)
        {
            _reserved = Math.Max(0, _reserved - reserved);
            var first = (_cached?.V1 ?? 0) + _pending;
            var second = (_cached?.V2 ?? 0) + _pending;
            if (_limits.Any || _kind == MeterKind.Spend)
            {
                _pending = MeterValue.Sum(_pending, actual);
            }
            return (first, MeterValue.Sum(first, actual), second, MeterValue.Sum(second, actual));
        }
    }

    /// <summary>Takes back settled usage (a request counted and then refused at a later level).</summary>
    public void Unsettle(long amount)
    {
        lock (_gate)
        {
            _pending -= amount;
        }
    }

    /// <summary>Raises the settled usage of the current periods to at least these (spend recorded before this process started).</summary>
    public void Seed(long first, long second, in MeterClock now)
    {
        lock (_gate)
        {
            _seedFirst = Math.Max(_seedFirst, first);
            _seedSecond = Math.Max(_seedSecond, second);
            Sync(_limits, 0, now, keep: false);
        }
    }

    /// <summary>The settled usage (first, second period), what is reserved here and what the others hold, as last seen.</summary>
    public (long First, long Second, long Reserved, long HeldByOthers) Read(in MeterClock now)
    {
        lock (_gate)
        {
            var value = _cached?.Clone() ?? new MeterValue();
            value.Roll(_kind, now);
            var others = value.HeldByOthers(_self, now.UnixMs, _holderTimeoutMs);
            return (value.Settled(_kind, 0, now) + _pending, value.Settled(_kind, 1, now) + _pending, _reserved, others);
        }
    }

    /// <summary>
    /// Writes back settled usage, gives back an idle allowance and refreshes a holding (the
    /// background flusher calls this); true when it wrote.
    /// </summary>
    public bool Flush(in MeterClock now, bool final = false)
    {
        lock (_gate)
        {
            var idle = now.UnixMs - _lastActiveMs >= _idleReturnMs;
            var due = _pending != 0 || _seedFirst >= 0
                || (_allowance > 0 && (idle || final))
                || _reserved + Math.Max(0, _allowance) < _held
                || (_held > 0 && now.UnixMs - _lastWriteMs >= _holderTimeoutMs / 3);
            if (!due || now.UnixMs < _unavailableUntilMs)
            {
                return false;
            }
            return Sync(_limits, 0, now, keep: !idle && !final).Written;
        }
    }

    // Under _gate for the whole round trip: local grants wait for it (once per allowance), so the
    // holding written and the local counts never disagree.
    private SyncResult Sync(in MeterLimits limits, long want, in MeterClock now, bool keep)
    {
        if (now.UnixMs < _unavailableUntilMs)
        {
            return SyncResult.Unavailable;
        }
        try
        {
            for (var attempt = 0; attempt < MaxAttempts; attempt++)
            {
                MeterValue value;
                ulong revision;
                if (_cached is null)
                {
                    (value, revision) = _store.Get(Key);
                }
                else
                {
                    value = _cached.Clone();
                    revision = _revision;
                }
                value.Roll(_kind, now);
                if (_seedFirst >= 0)
                {
                    value.V1 = Math.Max(value.V1, _seedFirst);
                    value.V2 = Math.Max(value.V2, _seedSecond);
                }
                value.AddSettled(_kind, _pending);
                var others = value.HeldByOthers(_self, now.UnixMs, _holderTimeoutMs);
                var room = long.MaxValue;
                var index = 0;
                long used = 0;
                for (var i = 0; i < 2; i++)
                {
                    if (limits[i] == MeterLimits.Unlimited)
                    {
                        continue;
                    }
                    var committed = MeterValue.Sum(MeterValue.Sum(value.Settled(_kind, i, now), others), _reserved);
                    if (limits[i] - committed < room)
                    {
                        room = limits[i] - committed;
                        index = i;
                        used = committed;
                    }
                }
                var admit = want > 0 && room > 0;
                var allowance = keep && limits.Any ? Math.Clamp(room - (admit ? want : 0), 0, Chunk(limits)) : 0;
                var held = MeterValue.Sum(MeterValue.Sum(_reserved, admit ? want : 0), allowance);
                if (held > 0)
                {
                    value.Holders[_self] = (held, now.UnixMs);
                }
                else
                {
                    value.Holders.Remove(_self);
                }
                if (_store.TryWrite(Key, value, revision) is not { } written)
                {
                    _cached = null;
                    Conflicts++;
                    continue;
                }
                _cached = value;
                _revision = written;
                _pending = 0;
                _seedFirst = -1;
                _seedSecond = -1;
                _held = held;
                _allowance = allowance;
                _lastWriteMs = now.UnixMs;
                Writes++;
                if (admit)
                {
                    _reserved = MeterValue.Sum(_reserved, want);
                }
                return new SyncResult(true, admit, room, new MeterRefusal(index, used, false));
            }
            // Lost every race: the others are writing this counter as fast as it can be written.
            return new SyncResult(false, false, 0, new MeterRefusal(0, 0, true));
        }
        catch (MeterStoreUnavailableException)
        {
            _cached = null;
            _unavailableUntilMs = now.UnixMs + 1000;
            return SyncResult.Unavailable;
        }
    }

    private long Chunk(in MeterLimits limits) => Math.Max(1, limits.Smallest / 100 * _store.Options.AllowancePercent);

    private readonly record struct SyncResult(bool Written, bool Admitted, long Room, MeterRefusal Refusal)
    {
        public static SyncResult Unavailable => new(false, false, 0, new MeterRefusal(0, 0, true));
    }
}
