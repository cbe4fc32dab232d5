using Beamline.Tenancy.Budgets;
using static Beamline.Tenancy.Tests.Budgets.BudgetTestBed;

namespace Beamline.Tenancy.Tests.Budgets;

/// <summary>The budget gate over a real tenant directory (SQLite), with a clock the tests set.</summary>
public sealed class BudgetGateTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private BudgetTestBed _bed = null!;

    public void Dispose() => _bed?.Dispose();

    [Fact]
    public async Task Reserve_MonthlyBudget_AdmitsWhileBelowItThenRefusesUntilTheMonthEnds()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m });

        _bed.AssertGranted(key, 40 * Dollar / 100);
        _bed.AssertGranted(key, 40 * Dollar / 100);
        // 0.80 committed is below the budget: the third is granted, overshooting by at most itself.
        _bed.AssertGranted(key, 40 * Dollar / 100);
        var denial = _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);

        Assert.Equal(BudgetTestBed.TenantId, denial.Id);
        Assert.Equal("monthly_budget_usd", denial.LimitName);
        Assert.Equal(Dollar, denial.LimitValue);
        Assert.Equal(120 * Dollar / 100, denial.Used);
        Assert.Equal("tenant 'tenant_a' has reached its monthly budget of $1.00", denial.Message);
        Assert.Equal((int)TimeSpan.FromDays(30).TotalSeconds, denial.RetryAfterSeconds); // 2025-01-02 → 2025-02-01
    }

    [Fact]
    public async Task Reserve_ACostNear2To63_DoesNotWrapTheCountersIntoAdmittingEverything()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m, TokensPerMinute = 1_000 });
        _bed.AssertGranted(key, 10 * Dollar / 100, 10);

        // Below the budget, the next reservation is granted whatever its size ...
        var huge = _bed.AssertGranted(key, long.MaxValue - 1, long.MaxValue - 1);

        // ... and while it is in flight the counters stay at their ceiling instead of wrapping negative.
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
        _bed.Gate.Settle(huge, long.MaxValue - 1, long.MaxValue - 1);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
    }

    [Fact]
    public async Task Reserve_BudgetSetMidMonth_CountsWhatWasSpentBeforeIt()
    {
        var history = new FixedSpendHistory();
        _bed = await BudgetTestBed.StartAsync(TenancyLimits.None, history: history);
        var key = await _bed.KeyAsync(null);
        _bed.AssertGranted(key, 10 * Dollar); // no budget: nothing limits (and nothing is asked of the ledger)

        // The ledger says the tenant spent $0.95 this month before the admin set a $1 budget.
        history.Spent[(BudgetLevel.Tenant, BudgetTestBed.TenantId)] = (95 * Dollar / 100, 0);
        await _bed.Directory.UpdateTenantAsync(BudgetTestBed.TenantId, null, null, new TenancyLimits { MonthlyBudgetUsd = 1m }, None);

        _bed.AssertGranted(key, 10 * Dollar / 100);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
        Assert.Equal(1, history.Asked);
    }

    [Fact]
    public async Task Settle_ActualBelowTheReservation_GivesTheDifferenceBack()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m });
        var grant = _bed.AssertGranted(key, Dollar);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);

        _bed.Gate.Settle(grant, 30 * Dollar / 100, 0);

        Assert.Equal(new BudgetUsage(30 * Dollar / 100, 30 * Dollar / 100, 0, 0, 0), _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId));
        _bed.AssertGranted(key, Dollar);
    }

    [Fact]
    public async Task Release_FailedCall_SpendsNothing()
    {
        var key = await StartAsync(new TenancyLimits { DailyBudgetUsd = 1m });
        var grant = _bed.AssertGranted(key, 2 * Dollar, 500);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget);

        _bed.Gate.Release(grant);

        Assert.Equal(default, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId));
        _bed.AssertGranted(key, 1);
    }

    [Fact]
    public async Task Reserve_RefusedAtTheTenant_HoldsNothingAtTheKeyOrTeam()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m }, new TenancyLimits { MonthlyBudgetUsd = 10m });
        var member = await _bed.KeyAsync(TeamId, new TenancyLimits { MonthlyBudgetUsd = 10m });
        _bed.Spend(key, Dollar);

        _bed.AssertRefused(member, Dollar / 10, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);

        Assert.Equal(default, _bed.Usage(BudgetLevel.Key, member.KeyId!));
        Assert.Equal(default, _bed.Usage(BudgetLevel.Team, TeamId));
    }

    [Fact]
    public async Task Reserve_KeyAndTeamBudgets_RefuseAtTheirOwnLevelOnly()
    {
        await StartAsync(new TenancyLimits { DailyBudgetUsd = 100m }, new TenancyLimits { DailyBudgetUsd = 2m });
        var tight = await _bed.KeyAsync(TeamId, new TenancyLimits { DailyBudgetUsd = 0.5m });
        var other = await _bed.KeyAsync(TeamId);
        var outside = await _bed.KeyAsync(null);

        _bed.Spend(tight, Dollar / 2);
        var keyDenial = _bed.AssertRefused(tight, 1, BudgetLevel.Key, BudgetLimit.DailyBudget);
        Assert.Equal($"API key '{tight.KeyId}' has reached its daily budget of $0.50", keyDenial.Message);
        Assert.Equal(86_400, keyDenial.RetryAfterSeconds);

        _bed.Spend(other, 3 * Dollar / 2);
        var teamDenial = _bed.AssertRefused(other, 1, BudgetLevel.Team, BudgetLimit.DailyBudget);
        Assert.Equal("team 'team_1' of tenant 'tenant_a' has reached its daily budget of $2.00", teamDenial.Message);
        _bed.AssertGranted(outside, Dollar);
    }

    [Fact]
    public async Task Reserve_NewDay_StartsTheDayAtZeroWhileTheMonthKeepsCounting()
    {
        var key = await StartAsync(new TenancyLimits { DailyBudgetUsd = 1m, MonthlyBudgetUsd = 1.5m });
        _bed.Clock.Now = new DateTimeOffset(2025, 1, 31, 23, 59, 0, TimeSpan.Zero);
        _bed.Spend(key, Dollar);
        Assert.Equal(60, _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget).RetryAfterSeconds);

        _bed.Advance(TimeSpan.FromSeconds(30));
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget);
        _bed.Advance(TimeSpan.FromSeconds(30)); // 2025-02-01: a new day and a new month
        _bed.Spend(key, Dollar);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget);

        _bed.Advance(TimeSpan.FromDays(1));
        _bed.Spend(key, 6 * Dollar / 10);
        var denial = _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
        Assert.Equal((int)TimeSpan.FromDays(27).TotalSeconds, denial.RetryAfterSeconds); // 2025-02-02 → 2025-03-01
        Assert.Equal(16 * Dollar / 10, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).MonthSpentNanos);
    }

    [Fact]
    public async Task Settle_CallInFlightAtMidnight_CountsInTheDayItEnds()
    {
        var key = await StartAsync(new TenancyLimits { DailyBudgetUsd = 1m });
        _bed.Clock.Now = new DateTimeOffset(2025, 1, 2, 23, 59, 59, TimeSpan.Zero);
        var grant = _bed.AssertGranted(key, 5 * Dollar);

        _bed.Advance(TimeSpan.FromSeconds(2));
        // The reservation carries over: the new day is committed too until the call ends.
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget);
        _bed.Gate.Settle(grant, Dollar / 4, 0);

        Assert.Equal(new BudgetUsage(Dollar / 4, Dollar / 4, 0, 0, 0), _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId));
        _bed.AssertGranted(key, 1);
    }

    [Fact]
    public async Task Reserve_TokensPerMinute_CountsReservedThenSettledTokensInASlidingMinute()
    {
        var key = await StartAsync(new TenancyLimits { TokensPerMinute = 1_000 });
        var first = _bed.AssertGranted(key, 0, 600);
        var second = _bed.AssertGranted(key, 0, 600);
        var inFlight = _bed.AssertRefused(key, 0, BudgetLevel.Tenant, BudgetLimit.TokensPerMinute, 1);
        Assert.Equal(1, inFlight.RetryAfterSeconds);
        Assert.Equal("tenant 'tenant_a' has reached its limit of 1000 tokens per minute", inFlight.Message);
        Assert.Equal("tokens_per_minute", inFlight.LimitName);

        _bed.Gate.Settle(first, 0, 500);
        _bed.Advance(TimeSpan.FromSeconds(30));
        _bed.Gate.Settle(second, 0, 500);
        Assert.Equal(30, _bed.AssertRefused(key, 0, BudgetLevel.Tenant, BudgetLimit.TokensPerMinute, 1).RetryAfterSeconds);

        _bed.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(1, _bed.AssertRefused(key, 0, BudgetLevel.Tenant, BudgetLimit.TokensPerMinute, 1).RetryAfterSeconds);
        _bed.Advance(TimeSpan.FromSeconds(1));
        _bed.AssertGranted(key, 0, 400);
        Assert.Equal(500, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).WindowTokens);
    }

    [Fact]
    public async Task Check_SpentBudget_RefusesWithoutReservingAndIgnoresTokens()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m, TokensPerMinute = 10 });
        var tokens = _bed.AssertGranted(key, 0, 100);
        Assert.Null(_bed.Gate.Check(key.TenantId, key.TeamId, key.KeyId));
        _bed.Gate.Release(tokens);

        _bed.Spend(key, Dollar);

        var denial = _bed.Gate.Check(key.TenantId, key.TeamId, key.KeyId);
        Assert.Equal(BudgetLimit.MonthlyBudget, denial?.Limit);
        Assert.Equal(0, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).ReservedNanos);
    }

    [Fact]
    public async Task Settle_CrossingThresholds_RaisesEachOncePerLevelBudgetAndPeriod()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 10m, DailyBudgetUsd = 1m });

        _bed.Spend(key, Dollar / 2);
        _bed.Spend(key, Dollar / 10);
        _bed.Spend(key, 3 * Dollar / 10);
        _bed.Spend(key, 2 * Dollar / 10);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.DailyBudget);
        _bed.Advance(TimeSpan.FromDays(1));
        _bed.Spend(key, 4 * Dollar);

        Assert.Equal(
        [
            (BudgetKind.Daily, "2025-01-02", 50, Dollar / 2),
            (BudgetKind.Daily, "2025-01-02", 80, 9 * Dollar / 10),
            (BudgetKind.Daily, "2025-01-02", 100, 11 * Dollar / 10),
            (BudgetKind.Monthly, "2025-01", 50, 51 * Dollar / 10),
            (BudgetKind.Daily, "2025-01-03", 50, 4 * Dollar),
            (BudgetKind.Daily, "2025-01-03", 80, 4 * Dollar),
            (BudgetKind.Daily, "2025-01-03", 100, 4 * Dollar),
        ], _bed.Alerts.Crossed.Select(c => (c.Kind, c.Period, c.ThresholdPercent, c.SpentNanos)));
        Assert.All(_bed.Alerts.Crossed, c => Assert.Equal((BudgetLevel.Tenant, BudgetTestBed.TenantId, BudgetTestBed.TenantId), (c.Level, c.TenantId, c.Id)));
        Assert.Equal(10 * Dollar, _bed.Alerts.Crossed[3].BudgetNanos);
    }

    [Fact]
    public async Task Settle_BudgetRaisedMidMonth_DoesNotRaiseAThresholdAgain()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m });
        _bed.Spend(key, 6 * Dollar / 10);

        await _bed.Directory.UpdateTenantAsync(BudgetTestBed.TenantId, null, null, new TenancyLimits { MonthlyBudgetUsd = 2m }, None);
        _bed.Spend(key, 5 * Dollar / 10); // 1.10 of 2.00 crosses 50 % of the new budget

        Assert.Equal([50], _bed.Alerts.Crossed.Select(c => c.ThresholdPercent));
        Assert.Equal(11 * Dollar / 10, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).MonthSpentNanos);
    }

    [Fact]
    public async Task Settle_ConfiguredThresholds_AreTheOnesRaised()
    {
        _bed = await BudgetTestBed.StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m }, thresholds: [90, 25]);
        var key = await _bed.KeyAsync(null);

        _bed.Spend(key, Dollar);

        Assert.Equal([25, 90], _bed.Alerts.Crossed.Select(c => c.ThresholdPercent));
    }

    [Fact]
    public async Task Settle_AlertSinkThrows_TheSpendIsStillCounted()
    {
        _bed = await BudgetTestBed.StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m }, sink: new ThrowingSink());
        var key = await _bed.KeyAsync(null);

        _bed.Spend(key, Dollar);

        Assert.Equal(Dollar, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).MonthSpentNanos);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
    }

    [Fact]
    public async Task Seed_MonthToDateFromBeforeARestart_CountsAndRaisesNothing()
    {
        var key = await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m, DailyBudgetUsd = 1m });

        _bed.Gate.Seed(BudgetLevel.Tenant, BudgetTestBed.TenantId, BudgetTestBed.TenantId, 95 * Dollar / 100, Dollar / 10);
        _bed.Gate.Seed(BudgetLevel.Tenant, BudgetTestBed.TenantId, BudgetTestBed.TenantId, Dollar / 2, 0); // less than counted: kept

        Assert.Equal(new BudgetUsage(95 * Dollar / 100, Dollar / 10, 0, 0, 0), _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId));
        _bed.Spend(key, Dollar / 10);
        _bed.AssertRefused(key, 1, BudgetLevel.Tenant, BudgetLimit.MonthlyBudget);
        Assert.Equal([100], _bed.Alerts.Crossed.Select(c => c.ThresholdPercent));
    }

    [Fact]
    public async Task Reserve_NoBudgetSet_CountsNothingAndHoldsNothing()
    {
        var key = await StartAsync(new TenancyLimits { RequestsPerMinute = 5 });

        var grant = _bed.AssertGranted(key, Dollar, 1_000);
        _bed.Gate.Settle(grant, Dollar, 1_000);

        Assert.Null(grant.State);
        Assert.Equal(0, _bed.Counters.Count);
        Assert.True(_bed.Gate.Reserve("tenant_nobody", null, null, Dollar, 0).IsGranted);
    }

    [Fact]
    public async Task Reserve_LevelDeleted_ItsCounterIsDropped()
    {
        await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 100m }, new TenancyLimits { MonthlyBudgetUsd = 10m });
        var member = await _bed.KeyAsync(TeamId, new TenancyLimits { DailyBudgetUsd = 1m });
        _bed.Spend(member, Dollar / 2);
        Assert.Equal(3, _bed.Counters.Count);

        await _bed.Directory.DeleteTeamAsync(BudgetTestBed.TenantId, TeamId, None);

        Assert.Equal(1, _bed.Counters.Count);
        Assert.Equal(Dollar / 2, _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).MonthSpentNanos);
    }

    [Fact]
    public async Task Settle_GrantFromElsewhere_IsRefused()
    {
        await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1m });

        Assert.Throws<ArgumentException>(() => _bed.Gate.Settle(new BudgetGrant("not a grant", 1, 0), 1, 0));
    }

    [Fact]
    public async Task ReserveAndSettle_KeyTeamTenantBudgets_DoNotAllocate()
    {
        await StartAsync(new TenancyLimits { MonthlyBudgetUsd = 1_000_000m, TokensPerMinute = long.MaxValue - 1 },
            new TenancyLimits { DailyBudgetUsd = 1_000_000m });
        var key = await _bed.KeyAsync(TeamId, new TenancyLimits { MonthlyBudgetUsd = 1_000_000m, DailyBudgetUsd = 1_000_000m });
        for (var i = 0; i < 100; i++)
        {
            _bed.Spend(key, 1, 1);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            var grant = _bed.Reserve(key, 2_000, 300);
            _bed.Gate.Settle(grant, 1_000, 200);
            _bed.Gate.Release(_bed.Reserve(key, 2_000, 300));
            _bed.Gate.Check(key.TenantId, key.TeamId, key.KeyId);
            _bed.Advance(TimeSpan.FromMilliseconds(250));
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    /// <summary>Starts the bed with the tenant's (and team's) limits; returns a tenant-wide key.</summary>
    private async Task<Caller> StartAsync(TenancyLimits tenant, TenancyLimits? team = null)
    {
        _bed = await BudgetTestBed.StartAsync(tenant, team);
        return await _bed.KeyAsync(null);
    }

    private sealed class ThrowingSink : IBudgetAlertSink
    {
        public void OnThresholdCrossed(BudgetThresholdCrossed crossed) => throw new InvalidOperationException("the alert queue is full");
    }
}
