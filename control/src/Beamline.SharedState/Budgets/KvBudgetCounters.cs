using System.Collections.Concurrent;
using Beamline.SharedState.Meters;
using Beamline.Tenancy.Budgets;

namespace Beamline.SharedState.Budgets;

/// <summary>
/// Budget counters shared by every control plane on one NATS: per level, a spend meter
/// (<c>budget.&lt;level&gt;.&lt;tenant&gt;.&lt;id&gt;.usd</c>: nano-dollars per UTC month and day)
/// and a tokens meter (<c>....tok</c>: the sliding minute) in the counters bucket. See
/// <see cref="SharedMeter"/> for the allowance, the compare-and-set writes and the bound: across
/// all control planes a budget is overshot by at most one reservation per control plane.
/// </summary>
/// <remarks>
/// NATS down: reservations are granted from the allowance a control plane already holds; beyond
/// it they are refused (CP1 <c>quota_exceeded</c>, retry after 1 s), since granting from local
/// counters would let every control plane spend the whole budget again. Levels without a budget
/// never reach NATS. The tokens-per-minute window is a fixed minute plus the previous one weighted
/// by how much of it is still inside the sliding minute (the in-process counter keeps 60 buckets).
/// </remarks>
internal sealed class KvBudgetCounters(MeterSet meters, TimeProvider time) : IBudgetCounters
{
    private readonly ConcurrentDictionary<BudgetCounterKey, Counter> _counters = new();

    /// <inheritdoc />
    public BudgetCounter Open(BudgetCounterKey key)
        => _counters.TryGetValue(key, out var counter) ? counter : _counters.GetOrAdd(key, static (k, m) => new Counter(k, m), meters);

    /// <inheritdoc />
    public bool TryReserve(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long costNanos, long tokens, out BudgetShortfall shortfall)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        shortfall = default;
        var clock = Clock(now);
        for (var i = 0; i < charges.Length; i++)
        {
            var counter = Of(charges[i]);
            var limits = charges[i].Limits;
            if (!counter.Spend.TryTake(SpendLimits(limits), costNanos, clock, out var refusal))
            {
                shortfall = SpendShortfall(i, limits, refusal, now);
                Undo(charges, i, costNanos, tokens);
                return false;
            }
            if (!counter.Tokens.TryTake(TokenLimits(limits), tokens, clock, out refusal))
            {
                counter.Spend.Give(costNanos);
                shortfall = TokenShortfall(i, limits, refusal, now);
                Undo(charges, i, costNanos, tokens);
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc />
    public bool Check(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, out BudgetShortfall shortfall)
    {
        shortfall = default;
        var clock = Clock(now);
        for (var i = 0; i < charges.Length; i++)
        {
            if (!Of(charges[i]).Spend.Check(SpendLimits(charges[i].Limits), clock, out var refusal))
            {
                shortfall = SpendShortfall(i, charges[i].Limits, refusal, now);
                return false;
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
            var (monthBefore, monthAfter, dayBefore, dayAfter) = counter.Spend.Settle(reservedNanos, costNanos);
            counter.Tokens.Settle(reservedTokens, tokens);
            changes[i] = new BudgetSpendChange(monthBefore, monthAfter, dayBefore, dayAfter);
        }
    }

    /// <inheritdoc />
    public void Release(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long reservedNanos, long reservedTokens)
    {
        for (var i = 0; i < charges.Length; i++)
        {
            var counter = Of(charges[i]);
            counter.Spend.Give(reservedNanos);
            counter.Tokens.Give(reservedTokens);
        }
    }

    /// <inheritdoc />
    public void Seed(BudgetCounterKey key, BudgetClock now, long monthSpentNanos, long daySpentNanos)
        => ((Counter)Open(key)).Spend.Seed(monthSpentNanos, daySpentNanos, Clock(now));

    /// <inheritdoc />
    public BudgetUsage Read(BudgetCounterKey key, BudgetClock now)
    {
        if (!_counters.TryGetValue(key, out var counter))
        {
            return default;
        }
        var clock = Clock(now);
        var spend = counter.Spend.Read(clock);
        var tokens = counter.Tokens.Read(clock);
        return new BudgetUsage(spend.First, spend.Second, MeterValue.Sum(spend.Reserved, spend.HeldByOthers),
            MeterValue.Sum(tokens.Reserved, tokens.HeldByOthers), tokens.First);
    }

    /// <inheritdoc />
    public void Retain(Func<BudgetCounterKey, bool> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        foreach (var (key, counter) in _counters)
        {
            if (!keep(key) && _counters.TryRemove(key, out _))
            {
                meters.Drop(counter.Spend.Key);
                meters.Drop(counter.Tokens.Key);
            }
        }
    }

    private static Counter Of(in BudgetCharge charge) => charge.Counter as Counter
        ?? throw new ArgumentException("The counter was not opened by this KvBudgetCounters.", nameof(charge));

    // The wall clock for holders' timestamps; periods from the caller's clock.
    private MeterClock Clock(BudgetClock now) => new(now.Month, now.Day, now.Second, time.GetUtcNow().ToUnixTimeMilliseconds());

    private static MeterLimits SpendLimits(in BudgetLimits limits) => new(limits.MonthlyNanos, limits.DailyNanos);

    private static MeterLimits TokenLimits(in BudgetLimits limits) => new(limits.TokensPerMinute, MeterLimits.Unlimited);

    private static BudgetShortfall SpendShortfall(int index, in BudgetLimits limits, in MeterRefusal refusal, BudgetClock now)
    {
        if (refusal.Unavailable)
        {
            // The shared counter cannot be reached: refuse as the first budget set, and retry soon.
            var monthly = limits.MonthlyNanos != BudgetLimits.Unlimited;
            return new BudgetShortfall(index, monthly ? BudgetLimit.MonthlyBudget : BudgetLimit.DailyBudget,
                monthly ? limits.MonthlyNanos : limits.DailyNanos, monthly ? limits.MonthlyNanos : limits.DailyNanos, 1);
        }
        return refusal.Index == 0
            ? new BudgetShortfall(index, BudgetLimit.MonthlyBudget, limits.MonthlyNanos, refusal.Used, now.SecondsToNextMonth)
            : new BudgetShortfall(index, BudgetLimit.DailyBudget, limits.DailyNanos, refusal.Used, now.SecondsToNextDay);
    }

    private static BudgetShortfall TokenShortfall(int index, in BudgetLimits limits, in MeterRefusal refusal, BudgetClock now)
        => new(index, BudgetLimit.TokensPerMinute, limits.TokensPerMinute, refusal.Unavailable ? limits.TokensPerMinute : refusal.Used,
            refusal.Unavailable ? 1 : (int)Math.Max(1, 60 - now.Second % 60));

    private static void Undo(ReadOnlySpan<BudgetCharge> charges, int upTo, long costNanos, long tokens)
    {
        for (var j = 0; j < upTo; j++)
        {
            var earlier = Of(charges[j]);
            earlier.Spend.Give(costNanos);
            earlier.Tokens.Give(tokens);
        }
    }

    /// <summary>One level's meters.</summary>
    private sealed class Counter : BudgetCounter
    {
        public Counter(BudgetCounterKey key, MeterSet meters) : base(key)
        {
            var prefix = $"budget.{Level(key.Level)}.{KvKeys.Token(key.TenantId)}.{KvKeys.Token(key.Id)}";
            Spend = meters.Get(prefix + ".usd", MeterKind.Spend);
            Tokens = meters.Get(prefix + ".tok", MeterKind.Window);
        }

        public SharedMeter Spend { get; }

        public SharedMeter Tokens { get; }

        private static string Level(BudgetLevel level) => BudgetNames.Of(level);
    }
}
