using System.Collections.Concurrent;

namespace Beamline.Tenancy.Budgets;

/// <summary>
/// The counters in this process's memory: one small object per level with a tiny lock. A
/// reservation takes the locks of its levels in the fixed order key, team, tenant (so two
/// reservations never wait on each other in a cycle), checks every level, and adds to all of them
/// or to none; settle and release take one lock at a time. Nothing allocates after a level's
/// counter exists.
/// </summary>
/// <remarks>
/// Each control plane counts the traffic it sees; usage does not survive a restart unless it is
/// seeded (<see cref="BudgetGate.Seed"/>).
/// </remarks>
public sealed class InProcessBudgetCounters : IBudgetCounters
{
    private readonly ConcurrentDictionary<BudgetCounterKey, Counter> _counters = new();

    /// <summary>How many levels have counters (for tests).</summary>
    internal int Count => _counters.Count;

    /// <inheritdoc />
    public BudgetCounter Open(BudgetCounterKey key)
        => _counters.TryGetValue(key, out var counter) ? counter : _counters.GetOrAdd(key, static k => new Counter(k));

    /// <inheritdoc />
    public bool TryReserve(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long costNanos, long tokens, out BudgetShortfall shortfall)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        shortfall = default;
        var locked = 0;
        try
        {
            for (var i = 0; i < charges.Length; i++)
            {
                var counter = Of(charges[i]);
                counter.Lock.Enter();
                locked = i + 1;
                if (!counter.Admits(charges[i].Limits, now, checkTokens: true, i, out shortfall))
                {
                    return false;
                }
            }
            for (var i = 0; i < charges.Length; i++)
            {
                Of(charges[i]).Reserve(costNanos, tokens);
            }
            return true;
        }
        finally
        {
            for (var i = locked - 1; i >= 0; i--)
            {
                Of(charges[i]).Lock.Exit();
            }
        }
    }

    /// <inheritdoc />
    public bool Check(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, out BudgetShortfall shortfall)
    {
        shortfall = default;
        for (var i = 0; i < charges.Length; i++)
        {
            var counter = Of(charges[i]);
            lock (counter.Lock)
            {
                if (!counter.Admits(charges[i].Limits, now, checkTokens: false, i, out shortfall))
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <inheritdoc />
    public void Settle(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long reservedNanos, long reservedTokens,
        long costNanos, long tokens, Span<BudgetSpendChange> changes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (changes.Length < charges.Length)
        {
            throw new ArgumentException("One change per charge is needed.", nameof(changes));
        }
        for (var i = 0; i < charges.Length; i++)
        {
            var counter = Of(charges[i]);
            lock (counter.Lock)
            {
                changes[i] = counter.Settle(now, reservedNanos, reservedTokens, costNanos, tokens);
            }
        }
    }

    /// <inheritdoc />
    public void Release(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long reservedNanos, long reservedTokens)
    {
        for (var i = 0; i < charges.Length; i++)
        {
            var counter = Of(charges[i]);
            lock (counter.Lock)
            {
                counter.Unreserve(reservedNanos, reservedTokens);
            }
        }
    }

    /// <inheritdoc />
    public void Seed(BudgetCounterKey key, BudgetClock now, long monthSpentNanos, long daySpentNanos)
    {
        var counter = (Counter)Open(key);
        lock (counter.Lock)
        {
            counter.Seed(now, monthSpentNanos, daySpentNanos);
        }
    }

    /// <inheritdoc />
    public BudgetUsage Read(BudgetCounterKey key, BudgetClock now)
    {
        if (!_counters.TryGetValue(key, out var counter))
        {
            return default;
        }
        lock (counter.Lock)
        {
            return counter.Read(now);
        }
    }

    /// <inheritdoc />
    public void Retain(Func<BudgetCounterKey, bool> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        foreach (var (key, _) in _counters)
        {
            if (!keep(key))
            {
                _counters.TryRemove(key, out _);
            }
        }
    }

    private static Counter Of(in BudgetCharge charge) => charge.Counter as Counter
        ?? throw new ArgumentException("The counter was not opened by this InProcessBudgetCounters.", nameof(charge));

    /// <summary>One level's usage; every member is read and written under <see cref="Lock"/>.</summary>
    private sealed class Counter(BudgetCounterKey key) : BudgetCounter(key)
    {
        private const int WindowSeconds = 60;

        private readonly long[] _buckets = new long[WindowSeconds];
        private int _month = int.MinValue;
        private long _monthSpent;
        private int _day = int.MinValue;
        private long _daySpent;
        private long _reservedNanos;
        private long _reservedTokens;
        private long _newestSecond;
        private long _windowTokens;

        public Lock Lock { get; } = new();

        public bool Admits(in BudgetLimits limits, BudgetClock now, bool checkTokens, int index, out BudgetShortfall shortfall)
        {
            Roll(now);
            var committed = Sum(_monthSpent, _reservedNanos);
            if (limits.MonthlyNanos != BudgetLimits.Unlimited && committed >= limits.MonthlyNanos)
            {
                shortfall = new BudgetShortfall(index, BudgetLimit.MonthlyBudget, limits.MonthlyNanos, committed, now.SecondsToNextMonth);
                return false;
            }
            committed = Sum(_daySpent, _reservedNanos);
            if (limits.DailyNanos != BudgetLimits.Unlimited && committed >= limits.DailyNanos)
            {
                shortfall = new BudgetShortfall(index, BudgetLimit.DailyBudget, limits.DailyNanos, committed, now.SecondsToNextDay);
                return false;
            }
            committed = Sum(_windowTokens, _reservedTokens);
            if (checkTokens && limits.TokensPerMinute != BudgetLimits.Unlimited && committed >= limits.TokensPerMinute)
            {
                shortfall = new BudgetShortfall(index, BudgetLimit.TokensPerMinute, limits.TokensPerMinute, committed,
                    SecondsUntilBelow(limits.TokensPerMinute));
                return false;
            }
            shortfall = default;
            return true;
        }

        public void Reserve(long nanos, long tokens)
        {
            _reservedNanos = Sum(_reservedNanos, nanos);
            _reservedTokens = Sum(_reservedTokens, tokens);
        }

        public void Unreserve(long nanos, long tokens)
        {
            // Never below zero: a hold settled twice by mistake must not hand out budget.
            _reservedNanos = Math.Max(0, _reservedNanos - nanos);
            _reservedTokens = Math.Max(0, _reservedTokens - tokens);
        }

        public BudgetSpendChange Settle(BudgetClock now, long reservedNanos, long reservedTokens, long nanos, long tokens)
        {
            Roll(now);
            Unreserve(reservedNanos, reservedTokens);
            var change = new BudgetSpendChange(_monthSpent, Sum(_monthSpent, nanos), _daySpent, Sum(_daySpent, nanos));
            _monthSpent = Sum(_monthSpent, nanos);
            _daySpent = Sum(_daySpent, nanos);
            _buckets[Bucket(_newestSecond)] = Sum(_buckets[Bucket(_newestSecond)], tokens);
            _windowTokens = Sum(_windowTokens, tokens);
            return change;
        }

        public void Seed(BudgetClock now, long monthSpent, long daySpent)
        {
            Roll(now);
            _monthSpent = Math.Max(_monthSpent, monthSpent);
            _daySpent = Math.Max(_daySpent, daySpent);
        }

        public BudgetUsage Read(BudgetClock now)
        {
            Roll(now);
            return new BudgetUsage(_monthSpent, _daySpent, _reservedNanos, _reservedTokens, _windowTokens);
        }

        // Amounts are never negative; a sum that would pass long.MaxValue stays there instead of
        // wrapping negative (which would admit everything): a client asking for max_tokens near 2^63.
        private static long Sum(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

        private static int Bucket(long second) => (int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds);

        // A newer month or day starts at zero spend; reservations carry over (their calls are in flight).
        private void Roll(BudgetClock now)
        {
            if (now.Month > _month)
            {
                _month = now.Month;
                _monthSpent = 0;
            }
            if (now.Day > _day)
            {
                _day = now.Day;
                _daySpent = 0;
            }
            var gap = now.Second - _newestSecond;
            if (gap <= 0)
            {
                return;
            }
            if (gap >= WindowSeconds)
            {
                Array.Clear(_buckets);
                _windowTokens = 0;
            }
            else
            {
                for (var s = _newestSecond + 1; s <= now.Second; s++)
                {
                    ref var bucket = ref _buckets[Bucket(s)];
                    _windowTokens -= bucket;
                    bucket = 0;
                }
            }
            _newestSecond = now.Second;
        }

        // The oldest second leaves the window in 1 s, the next in 2, ...; tokens reserved in flight
        // leave only when their calls end, which no clock predicts (then 1 s).
        private int SecondsUntilBelow(long limit)
        {
            var remaining = _windowTokens + _reservedTokens;
            for (var i = 0; i < WindowSeconds; i++)
            {
                remaining -= _buckets[Bucket(_newestSecond - WindowSeconds + 1 + i)];
                if (remaining < limit)
                {
                    return i + 1;
                }
            }
            return 1;
        }
    }
}
