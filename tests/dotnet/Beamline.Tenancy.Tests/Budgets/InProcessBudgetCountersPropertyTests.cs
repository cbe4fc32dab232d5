using Beamline.Tenancy.Budgets;
using CsCheck;

namespace Beamline.Tenancy.Tests.Budgets;

/// <summary>
/// Random interleavings of reserve, settle, release and the clock moving, over key, team and tenant
/// counters, checked step by step against a plain model of what each level should hold.
/// </summary>
public sealed class InProcessBudgetCountersPropertyTests
{
    private static readonly BudgetCounterKey[] Keys =
    [
        new(BudgetLevel.Key, "t", "k1"),
        new(BudgetLevel.Key, "t", "k2"),
        new(BudgetLevel.Team, "t", "team"),
        new(BudgetLevel.Tenant, "t", "t"),
    ];

    // Who a request charges: indexes into Keys, ordered key, team, tenant.
    private static readonly int[][] Chains = [[0, 2, 3], [1, 2, 3], [1, 3], [3]];

    private static readonly Gen<BudgetLimits> Limits = Gen.Select(Gen.Long[0, 3_000], Gen.Long[0, 2_000], Gen.Long[0, 1_500], Gen.Int[0, 7],
        (month, day, tokens, unset) => new BudgetLimits(
            (unset & 1) != 0 ? BudgetLimits.Unlimited : month,
            (unset & 2) != 0 ? BudgetLimits.Unlimited : day,
            (unset & 4) != 0 ? BudgetLimits.Unlimited : tokens));

    private static readonly Gen<Op> Ops = Gen.Select(Gen.Int[0, 9], Gen.Int[0, 1_000], Gen.Long[0, 400], Gen.Long[0, 300],
        (kind, pick, amount, tokens) => new Op(kind, pick, amount, tokens));

    [Fact]
    public void RandomInterleavings_MatchTheModelAndKeepTheInvariants()
    {
        Gen.Select(Limits.Array[Keys.Length], Ops.Array[1, 120])
            .Sample((limits, ops) => Run(limits, ops), iter: 400);
    }

    private static void Run(BudgetLimits[] limits, Op[] ops)
    {
        var counters = new InProcessBudgetCounters();
        var model = new Model[Keys.Length];
        var handles = new BudgetCounter[Keys.Length];
        for (var k = 0; k < Keys.Length; k++)
        {
            model[k] = new Model();
            handles[k] = counters.Open(Keys[k]);
        }
        var holds = new List<(int[] Chain, long Nanos, long Tokens)>();
        var clock = BudgetClock.From(new DateTimeOffset(2025, 1, 30, 23, 0, 0, TimeSpan.Zero));
        Span<BudgetSpendChange> changes = stackalloc BudgetSpendChange[3];

        foreach (var op in ops)
        {
            switch (op.Kind)
            {
                case <= 4:
                {
                    var chain = Chains[op.Pick % Chains.Length];
                    var charges = Charges(chain, handles, limits);
                    var before = Snapshot(counters, clock);
                    var expected = chain.All(k => model[k].Admits(limits[k], clock));
                    var granted = counters.TryReserve(charges, clock, op.Amount, op.Tokens, out var shortfall);
                    Assert.Equal(expected, granted);
                    if (granted)
                    {
                        foreach (var k in chain)
                        {
                            // Below every limit when granted: committed before the grant was under it.
                            Assert.True(model[k].Admits(limits[k], clock));
                            model[k].Reserved += op.Amount;
                            model[k].ReservedTokens += op.Tokens;
                        }
                        holds.Add((chain, op.Amount, op.Tokens));
                    }
                    else
                    {
                        // All or none: a refusal leaves every level as it was, and names the first that refused.
                        Assert.Equal(before, Snapshot(counters, clock));
                        Assert.Equal(chain.First(k => !model[k].Admits(limits[k], clock)), chain[shortfall.Index]);
                    }
                    break;
                }
                case <= 6 when holds.Count > 0:
                {
                    var index = op.Pick % holds.Count;
                    var (chain, nanos, tokens) = holds[index];
                    holds.RemoveAt(index);
                    var actual = op.Amount; // sometimes more than reserved
                    var actualTokens = op.Tokens;
                    counters.Settle(Charges(chain, handles, limits), clock, nanos, tokens, actual, actualTokens, changes[..chain.Length]);
                    for (var i = 0; i < chain.Length; i++)
                    {
                        var m = model[chain[i]];
                        m.Roll(clock);
                        Assert.Equal(new BudgetSpendChange(m.Month, m.Month + actual, m.Day, m.Day + actual), changes[i]);
                        m.Reserved -= nanos;
                        m.ReservedTokens -= tokens;
                        m.Month += actual;
                        m.Day += actual;
                        m.Settled.Add((clock.Second, actualTokens));
                    }
                    break;
                }
                case 7 when holds.Count > 0:
                {
                    var index = op.Pick % holds.Count;
                    var (chain, nanos, tokens) = holds[index];
                    holds.RemoveAt(index);
                    counters.Release(Charges(chain, handles, limits), clock, nanos, tokens);
                    foreach (var k in chain)
                    {
                        model[k].Reserved -= nanos;
                        model[k].ReservedTokens -= tokens;
                    }
                    break;
                }
                default:
                    // The clock moves on: seconds, past the minute, and across days and the month's end.
                    clock = BudgetClock.From(new DateTimeOffset(clock.Second * TimeSpan.TicksPerSecond, TimeSpan.Zero).AddSeconds(op.Pick * 97));
                    break;
            }

            for (var k = 0; k < Keys.Length; k++)
            {
                model[k].Roll(clock);
                var usage = counters.Read(Keys[k], clock);
                Assert.True(usage.ReservedNanos >= 0 && usage.ReservedTokens >= 0);
                Assert.Equal(model[k].Usage(clock), usage);
            }
        }

        // Once every hold is released, nothing is reserved anywhere.
        foreach (var (chain, nanos, tokens) in holds)
        {
            counters.Release(Charges(chain, handles, limits), clock, nanos, tokens);
        }
        Assert.All(Keys, key => Assert.Equal((0L, 0L), (counters.Read(key, clock).ReservedNanos, counters.Read(key, clock).ReservedTokens)));
    }

    private static BudgetCharge[] Charges(int[] chain, BudgetCounter[] handles, BudgetLimits[] limits)
        => [.. chain.Select(k => new BudgetCharge(handles[k], limits[k]))];

    private static BudgetUsage[] Snapshot(InProcessBudgetCounters counters, BudgetClock clock)
        => [.. Keys.Select(k => counters.Read(k, clock))];

    private readonly record struct Op(int Kind, int Pick, long Amount, long Tokens);

    /// <summary>What one level should hold, computed the plain way.</summary>
    private sealed class Model
    {
        private int _month = -1;
        private int _day = -1;

        public long Month { get; set; }

        public long Day { get; set; }

        public long Reserved { get; set; }

        public long ReservedTokens { get; set; }

        public List<(long Second, long Tokens)> Settled { get; } = [];

        public void Roll(BudgetClock clock)
        {
            if (clock.Month != _month)
            {
                (_month, Month) = (clock.Month, 0);
            }
            if (clock.Day != _day)
            {
                (_day, Day) = (clock.Day, 0);
            }
        }

        public long WindowTokens(BudgetClock clock) => Settled.Where(s => s.Second > clock.Second - 60).Sum(s => s.Tokens);

        public bool Admits(BudgetLimits limits, BudgetClock clock)
        {
            Roll(clock);
            return (limits.MonthlyNanos == BudgetLimits.Unlimited || Month + Reserved < limits.MonthlyNanos)
                && (limits.DailyNanos == BudgetLimits.Unlimited || Day + Reserved < limits.DailyNanos)
                && (limits.TokensPerMinute == BudgetLimits.Unlimited || WindowTokens(clock) + ReservedTokens < limits.TokensPerMinute);
        }

        public BudgetUsage Usage(BudgetClock clock) => new(Month, Day, Reserved, ReservedTokens, WindowTokens(clock));
    }
}
