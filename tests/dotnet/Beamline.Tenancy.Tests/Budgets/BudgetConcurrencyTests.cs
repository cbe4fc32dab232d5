using Beamline.Tenancy.Budgets;
using static Beamline.Tenancy.Tests.Budgets.BudgetTestBed;

namespace Beamline.Tenancy.Tests.Budgets;

/// <summary>Many threads reserving against one budget at once: the overshoot stays within one reservation.</summary>
public sealed class BudgetConcurrencyTests : IDisposable
{
    private const int Requests = 500;
    private const long Budget = 10 * Dollar;
    private BudgetTestBed _bed = null!;

    public void Dispose() => _bed?.Dispose();

    [Fact]
    public async Task Reserve_500AtOnceThenSettleInFull_SpendStaysWithinOneReservationOfTheBudget()
    {
        var keys = await StartAsync();
        var reservations = RandomReservations(seed: 1);
        var grants = new BudgetGrant[Requests];

        // Every request reserves before any settles: the most a budget can be committed to at once.
        await RunAsync(i => grants[i] = _bed.Reserve(keys[i % keys.Length], reservations[i]));
        var granted = Enumerable.Range(0, Requests).Where(i => grants[i].IsGranted).ToArray();
        var reserved = _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId).ReservedNanos;
        Assert.Equal(granted.Sum(i => reservations[i]), reserved);
        Assert.InRange(reserved, Budget, Budget + reservations.Max() - 1);
        Assert.True(granted.Length < Requests);

        await RunAsync(i => _bed.Gate.Settle(grants[i], reservations[i], 0));

        var tenant = _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId);
        Assert.Equal(reserved, tenant.MonthSpentNanos);
        Assert.Equal(0, tenant.ReservedNanos);
        AssertLevelsAddUp(keys);
    }

    [Fact]
    public async Task ReserveAndSettle_500Interleaved_SpendStaysWithinOneReservationPlusWhatCallsCostBeyondTheirs()
    {
        var keys = await StartAsync();
        var reservations = RandomReservations(seed: 2);
        long settled = 0;
        long beyond = 0;
        var granted = 0;

        await RunAsync(i =>
        {
            var random = new Random(1000 + i);
            var grant = _bed.Reserve(keys[i % keys.Length], reservations[i]);
            if (!grant.IsGranted)
            {
                Assert.Equal(BudgetLimit.MonthlyBudget, grant.Denial!.Value.Limit);
                return;
            }
            Interlocked.Increment(ref granted);
            Thread.SpinWait(random.Next(0, 2_000));
            var outcome = random.Next(100);
            if (outcome < 10)
            {
                _bed.Gate.Release(grant); // the call failed
                return;
            }
            // Mostly less than reserved; now and then a little more (a price the quote missed).
            var actual = outcome < 15 ? reservations[i] + random.Next(1, 1_000_000) : random.NextInt64(0, reservations[i] + 1);
            Interlocked.Add(ref beyond, Math.Max(0, actual - reservations[i]));
            Interlocked.Add(ref settled, actual);
            _bed.Gate.Settle(grant, actual, 0);
        });

        var tenant = _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId);
        Assert.Equal(settled, tenant.MonthSpentNanos);
        Assert.Equal(0, tenant.ReservedNanos);
        Assert.True(tenant.MonthSpentNanos <= Budget + reservations.Max() + beyond, $"spent {tenant.MonthSpentNanos}");
        Assert.InRange(granted, 1, Requests - 1);
        AssertLevelsAddUp(keys);
    }

    /// <summary>Four keys in one team, all under one tenant budget (the team and keys have budgets of their own, above it).</summary>
    private async Task<Caller[]> StartAsync()
    {
        _bed = await BudgetTestBed.StartAsync(new TenancyLimits { MonthlyBudgetUsd = 10m }, new TenancyLimits { MonthlyBudgetUsd = 1_000m });
        var keys = new Caller[4];
        for (var k = 0; k < keys.Length; k++)
        {
            keys[k] = await _bed.KeyAsync(TeamId, new TenancyLimits { DailyBudgetUsd = 1_000m });
        }
        return keys;
    }

    // $0.05 to $0.50 each: about 27 times the budget in all.
    private static long[] RandomReservations(int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, Requests).Select(_ => random.NextInt64(Dollar / 20, Dollar / 2))];
    }

    // Each level counted exactly what went through it: the keys add up to the team, the team to the tenant.
    private void AssertLevelsAddUp(Caller[] keys)
    {
        var tenant = _bed.Usage(BudgetLevel.Tenant, BudgetTestBed.TenantId);
        var team = _bed.Usage(BudgetLevel.Team, TeamId);
        Assert.Equal(tenant, team);
        Assert.Equal(team.DaySpentNanos, keys.Sum(k => _bed.Usage(BudgetLevel.Key, k.KeyId!).DaySpentNanos));
        Assert.All(keys, k => Assert.Equal(0, _bed.Usage(BudgetLevel.Key, k.KeyId!).ReservedNanos));
    }

    // Requests on dedicated threads released together, so that they really contend.
    private static async Task RunAsync(Action<int> request)
    {
        const int threads = 16;
        using var start = new Barrier(threads);
        var tasks = new Task[threads];
        for (var t = 0; t < threads; t++)
        {
            var thread = t;
            tasks[t] = Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                for (var i = thread; i < Requests; i += threads)
                {
                    request(i);
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        await Task.WhenAll(tasks);
    }
}
