using Beamline.SharedState.Budgets;
using Beamline.Tenancy.Budgets;

namespace Beamline.SharedState.Tests.Budgets;

/// <summary>The budget port over shared meters, on a real JetStream nats-server.</summary>
public sealed class KvBudgetCountersTests(JetStreamFixture fixture) : IClassFixture<JetStreamFixture>
{
    private static readonly BudgetClock Now = BudgetClock.From(DateTimeOffset.UtcNow);
    private readonly string _bucket = $"test-{Guid.NewGuid():N}";

    [Fact]
    public async Task Reserve_LaterLevelRefuses_EarlierLevelsKeepNothing()
    {
        await using var instance = await SharedStateInstance.StartAsync(fixture.Server.Url, "a", _bucket);
        var counters = new KvBudgetCounters(instance.Meters, TimeProvider.System);
        var key = counters.Open(new BudgetCounterKey(BudgetLevel.Key, "t", "k"));
        var tenant = counters.Open(new BudgetCounterKey(BudgetLevel.Tenant, "t", "t"));
        var charges = new[]
        {
            new BudgetCharge(key, new BudgetLimits(1_000_000, BudgetLimits.Unlimited, BudgetLimits.Unlimited)),
            new BudgetCharge(tenant, new BudgetLimits(BudgetLimits.Unlimited, 100, BudgetLimits.Unlimited)),
        };

        Assert.True(counters.TryReserve(charges, Now, 100, 0, out _));
        Assert.False(counters.TryReserve(charges, Now, 100, 0, out var shortfall));

        Assert.Equal(1, shortfall.Index);
        Assert.Equal(BudgetLimit.DailyBudget, shortfall.Limit);
        Assert.Equal(100, counters.Read(key.Key, Now).ReservedNanos);
    }

    [Fact]
    public async Task Settle_CountsSpend_AndSecondInstanceSeesIt()
    {
        await using var a = await SharedStateInstance.StartAsync(fixture.Server.Url, "a", _bucket);
        await using var b = await SharedStateInstance.StartAsync(fixture.Server.Url, "b", _bucket);
        var countersA = new KvBudgetCounters(a.Meters, TimeProvider.System);
        var countersB = new KvBudgetCounters(b.Meters, TimeProvider.System);
        var levelKey = new BudgetCounterKey(BudgetLevel.Tenant, "t", "t");
        var limits = new BudgetLimits(10_000, BudgetLimits.Unlimited, BudgetLimits.Unlimited);
        var chargesA = new[] { new BudgetCharge(countersA.Open(levelKey), limits) };
        var chargesB = new[] { new BudgetCharge(countersB.Open(levelKey), limits) };

        Assert.True(countersA.TryReserve(chargesA, Now, 10_000, 0, out _));
        var changes = new BudgetSpendChange[1];
        countersA.Settle(chargesA, Now, 10_000, 0, 9_000, 0, changes);
        a.Meters.FlushAll(final: true);

        Assert.Equal(9_000, changes[0].MonthAfter - changes[0].MonthBefore);
        Assert.True(countersB.TryReserve(chargesB, Now, 5_000, 0, out _)); // 9 000 < 10 000: admitted, whatever its size
        Assert.False(countersB.TryReserve(chargesB, Now, 1, 0, out var shortfall));
        Assert.Equal(BudgetLimit.MonthlyBudget, shortfall.Limit);
        Assert.Equal(14_000, shortfall.Used);
    }
}
