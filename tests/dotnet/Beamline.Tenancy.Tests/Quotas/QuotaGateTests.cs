using Beamline.Tenancy.Quotas;
using Beamline.Tenancy.Tests.Infrastructure;
using Clock = Beamline.Testing.ManualTimeProvider;

namespace Beamline.Tenancy.Tests.Quotas;

/// <summary>The quota gate over a real tenant directory (SQLite), with a clock the tests move.</summary>
public sealed class QuotaGateTests : IDisposable
{
    private const string TenantId = "tenant_a";
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _temp = new();
    private readonly Clock _clock = new();
    private TenantDirectory _directory = null!;
    private QuotaGate _gate = null!;

    public void Dispose()
    {
        _gate?.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task Enter_RequestsPerMinute_AdmitsTheLimitThenRefusesUntilTheMinuteHasPassed()
    {
        var key = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 3 });

        for (var i = 0; i < 3; i++)
        {
            Assert.True(Admits(key));
        }
        var refusal = AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
        Assert.Equal(TenantId, refusal.Id);
        Assert.Equal(3, refusal.LimitValue);
        Assert.Equal(60, refusal.RetryAfterSeconds);
        Assert.Equal("tenant 'tenant_a' is over its limit of 3 requests per minute", refusal.Message);

        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(1, AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute).RetryAfterSeconds);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(Admits(key));
    }

    [Fact]
    public async Task Enter_RequestsPerMinute_SlidesRatherThanResettingEachMinute()
    {
        var key = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 2 });

        Assert.True(Admits(key));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Admits(key));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(29, AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute).RetryAfterSeconds);

        // At 60 s only the first request has left the window: one more, not two.
        _clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(Admits(key));
        AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(Admits(key));
    }

    [Fact]
    public async Task Enter_KeyLimitTighterThanTenant_RefusesAtTheKeyOnly()
    {
        var tight = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 10 }, new TenancyLimits { RequestsPerMinute = 2 });
        var other = await KeyAsync(null, TenancyLimits.None);

        Assert.True(Admits(tight));
        Assert.True(Admits(tight));
        var refusal = AssertRefused(tight, QuotaLevel.Key, QuotaLimit.RequestsPerMinute);
        Assert.Equal($"API key '{tight.KeyId}' is over its limit of 2 requests per minute", refusal.Message);
        Assert.True(Admits(other));
    }

    [Fact]
    public async Task Enter_TwoKeysOfOneTenant_TogetherHitTheTenantLimit()
    {
        var a = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 3 });
        var b = await KeyAsync(null, TenancyLimits.None);

        Assert.True(Admits(a));
        Assert.True(Admits(b));
        Assert.True(Admits(a));
        AssertRefused(b, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
        AssertRefused(a, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
    }

    [Fact]
    public async Task Enter_TeamLimit_CapsTheTeamsKeysTogether()
    {
        var a = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 10 });
        await _directory.CreateTeamAsync(TenantId, "team_1", null, new TenancyLimits { RequestsPerMinute = 2 }, None);
        var teamA = await KeyAsync("team_1", TenancyLimits.None);
        var teamB = await KeyAsync("team_1", TenancyLimits.None);

        Assert.True(Admits(teamA));
        Assert.True(Admits(teamB));
        var refusal = AssertRefused(teamA, QuotaLevel.Team, QuotaLimit.RequestsPerMinute);
        Assert.Equal("team 'team_1' of tenant 'tenant_a' is over its limit of 2 requests per minute", refusal.Message);
        Assert.True(Admits(a));
    }

    [Fact]
    public async Task Enter_RefusedAtTheTenant_DoesNotUseTheKeysAllowance()
    {
        var a = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 3 }, new TenancyLimits { RequestsPerMinute = 2 });
        var b = await KeyAsync(null, TenancyLimits.None);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(Admits(b));
        }

        _clock.Advance(TimeSpan.FromSeconds(30));
        AssertRefused(a, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
        AssertRefused(a, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
        Assert.Equal(0, _gate.Find(QuotaLevel.Key, TenantId, a.KeyId)!.InWindow);

        // b's requests have left the window, a's refused ones never entered it: a has both of its own.
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.True(Admits(a));
        Assert.True(Admits(a));
        AssertRefused(a, QuotaLevel.Key, QuotaLimit.RequestsPerMinute);
    }

    [Fact]
    public async Task Enter_MaxConcurrentRequests_RefusesWhileTheSlotsAreHeld()
    {
        var key = await SetUpAsync(new TenancyLimits { MaxConcurrentRequests = 2 });

        var first = _gate.Enter(key);
        using var second = _gate.Enter(key);
        Assert.True(first.IsAdmitted);
        Assert.True(second.IsAdmitted);
        var refusal = AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.MaxConcurrentRequests);
        Assert.Equal("tenant 'tenant_a' is at its limit of 2 concurrent requests", refusal.Message);
        Assert.Equal(1, refusal.RetryAfterSeconds);

        first.Dispose();
        Assert.True(Admits(key));
    }

    [Fact]
    public async Task Lease_RequestThrows_ItsSlotIsGivenBack()
    {
        var key = await SetUpAsync(new TenancyLimits { MaxConcurrentRequests = 1 });

        Assert.Throws<InvalidOperationException>(() => FailWhileHolding(key));

        Assert.Equal(0, _gate.Find(QuotaLevel.Tenant, TenantId, TenantId)!.InFlight);
        Assert.True(Admits(key));
    }

    [Fact]
    public async Task Lease_RequestCancelled_ItsSlotIsGivenBack()
    {
        var key = await SetUpAsync(new TenancyLimits { MaxConcurrentRequests = 1 });
        using var cancel = new CancellationTokenSource();

        var running = HoldWhileAwaitingAsync(key, cancel.Token);
        AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.MaxConcurrentRequests);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        Assert.True(Admits(key));
    }

    [Fact]
    public async Task Enter_RefusedForConcurrency_DoesNotCountAgainstTheMinute()
    {
        var key = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 2, MaxConcurrentRequests = 1 });

        using (var held = _gate.Enter(key))
        {
            Assert.True(held.IsAdmitted);
            AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.MaxConcurrentRequests);
        }

        Assert.True(Admits(key));
        AssertRefused(key, QuotaLevel.Tenant, QuotaLimit.RequestsPerMinute);
    }

    [Fact]
    public async Task EnterTenant_CountsTheTenantLevelOnly()
    {
        var key = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 3 }, new TenancyLimits { RequestsPerMinute = 1 });

        Assert.True(Admits(key));
        using (var bus = _gate.EnterTenant(TenantId))
        {
            Assert.True(bus.IsAdmitted);
        }
        using (var bus = _gate.EnterTenant(TenantId))
        {
            Assert.True(bus.IsAdmitted);
        }
        using (var over = _gate.EnterTenant(TenantId))
        {
            Assert.False(over.IsAdmitted);
            Assert.Equal(QuotaLevel.Tenant, over.Refusal.Level);
        }
        using var unknown = _gate.EnterTenant("tenant_nobody");
        Assert.True(unknown.IsAdmitted);
    }

    [Fact]
    public async Task Enter_NoLimitsSet_KeepsNoCounters()
    {
        var key = await SetUpAsync(new TenancyLimits { AllowedProviders = ["openai"] });

        for (var i = 0; i < 100; i++)
        {
            Assert.True(Admits(key));
        }
        Assert.Equal(0, _gate.CounterCount);
    }

    [Fact]
    public async Task Enter_TeamDeleted_ItsCountersAreDropped()
    {
        await SetUpAsync(new TenancyLimits { RequestsPerMinute = 100 });
        await _directory.CreateTeamAsync(TenantId, "team_1", null, new TenancyLimits { RequestsPerMinute = 10 }, None);
        var member = await KeyAsync("team_1", new TenancyLimits { MaxConcurrentRequests = 5 });
        Assert.True(Admits(member));
        Assert.Equal(3, _gate.CounterCount);

        await _directory.DeleteTeamAsync(TenantId, "team_1", None);

        Assert.Null(_gate.Find(QuotaLevel.Team, TenantId, "team_1"));
        Assert.Null(_gate.Find(QuotaLevel.Key, TenantId, member.KeyId));
        Assert.NotNull(_gate.Find(QuotaLevel.Tenant, TenantId, TenantId));
    }

    [Fact]
    public async Task Enter_Admitted_DoesNotAllocate()
    {
        await SetUpAsync(new TenancyLimits { RequestsPerMinute = int.MaxValue, MaxConcurrentRequests = 100 });
        await _directory.CreateTeamAsync(TenantId, "team_1", null, new TenancyLimits { MaxConcurrentRequests = 50 }, None);
        var key = await KeyAsync("team_1", new TenancyLimits { RequestsPerMinute = int.MaxValue });
        for (var i = 0; i < 100; i++)
        {
            Assert.True(Admits(key));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            using var lease = _gate.Enter(key);
            _clock.Advance(TimeSpan.FromMilliseconds(250));
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task Enter_ManyThreads_NeverAdmitMoreThanTheLimits()
    {
        var first = await SetUpAsync(new TenancyLimits { RequestsPerMinute = 500 }, new TenancyLimits { RequestsPerMinute = 200 });
        var keys = new[] { first, null!, null!, null! };
        for (var k = 1; k < keys.Length; k++)
        {
            keys[k] = await KeyAsync(null, new TenancyLimits { RequestsPerMinute = 200 });
        }
        var admitted = new int[keys.Length];

        await RunOnThreadsAsync(8, thread =>
        {
            for (var i = 0; i < 250; i++)
            {
                var k = (thread + i) % keys.Length;
                using var lease = _gate.Enter(keys[k]);
                if (lease.IsAdmitted)
                {
                    Interlocked.Increment(ref admitted[k]);
                }
            }
        });

        Assert.Equal(500, admitted.Sum());
        Assert.All(admitted, count => Assert.InRange(count, 0, 200));
        // What was taken back after a refusal left no trace: every level counts exactly what it admitted.
        Assert.Equal(500, _gate.Find(QuotaLevel.Tenant, TenantId, TenantId)!.InWindow);
        for (var k = 0; k < keys.Length; k++)
        {
            Assert.Equal(admitted[k], _gate.Find(QuotaLevel.Key, TenantId, keys[k].KeyId)!.InWindow);
        }
    }

    [Fact]
    public async Task Enter_ManyThreads_NeverHoldMoreSlotsThanTheLimits()
    {
        var first = await SetUpAsync(new TenancyLimits { MaxConcurrentRequests = 3 }, new TenancyLimits { MaxConcurrentRequests = 2 });
        var second = await KeyAsync(null, TenancyLimits.None);
        var inFlight = 0;
        var firstInFlight = 0;
        var most = 0;
        var mostOfFirst = 0;
        var admitted = 0;

        await RunOnThreadsAsync(8, thread =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                var isFirst = (thread + i) % 2 == 0;
                using var lease = _gate.Enter(isFirst ? first : second);
                if (!lease.IsAdmitted)
                {
                    continue;
                }
                Interlocked.Increment(ref admitted);
                InterlockedMax(ref most, Interlocked.Increment(ref inFlight));
                if (isFirst)
                {
                    InterlockedMax(ref mostOfFirst, Interlocked.Increment(ref firstInFlight));
                }
                Thread.SpinWait(50);
                if (isFirst)
                {
                    Interlocked.Decrement(ref firstInFlight);
                }
                Interlocked.Decrement(ref inFlight);
            }
        });

        Assert.InRange(most, 1, 3);
        Assert.InRange(mostOfFirst, 1, 2);
        Assert.True(admitted > 0);
        Assert.Equal(0, _gate.Find(QuotaLevel.Tenant, TenantId, TenantId)!.InFlight);
        Assert.Equal(0, _gate.Find(QuotaLevel.Key, TenantId, first.KeyId)!.InFlight);
    }

    /// <summary>Opens the directory with one tenant and one key of it; returns the key's principal.</summary>
    private async Task<TenantPrincipal> SetUpAsync(TenancyLimits tenantLimits, TenancyLimits? keyLimits = null)
    {
        _directory = await Directories.OpenAsync(_temp.DatabasePath);
        _gate = new QuotaGate(_directory, _clock);
        await _directory.CreateTenantAsync(TenantId, null, null, tenantLimits, None);
        return await KeyAsync(null, keyLimits ?? TenancyLimits.None);
    }

    private async Task<TenantPrincipal> KeyAsync(string? teamId, TenancyLimits limits)
    {
        var created = await _directory.CreateKeyAsync(TenantId, teamId, null, null, limits, None);
        Assert.True(_directory.TryAuthenticate(created.Key, out var principal));
        return principal;
    }

    private bool Admits(TenantPrincipal principal)
    {
        using var lease = _gate.Enter(principal);
        return lease.IsAdmitted;
    }

    private QuotaRefusal AssertRefused(TenantPrincipal principal, QuotaLevel level, QuotaLimit limit)
    {
        using var lease = _gate.Enter(principal);
        Assert.False(lease.IsAdmitted);
        Assert.Equal(level, lease.Refusal.Level);
        Assert.Equal(limit, lease.Refusal.Limit);
        return lease.Refusal;
    }

    private void FailWhileHolding(TenantPrincipal principal)
    {
        using var lease = _gate.Enter(principal);
        Assert.True(lease.IsAdmitted);
        AssertRefused(principal, QuotaLevel.Tenant, QuotaLimit.MaxConcurrentRequests);
        throw new InvalidOperationException("the provider failed");
    }

    private async Task HoldWhileAwaitingAsync(TenantPrincipal principal, CancellationToken cancellationToken)
    {
        using var lease = _gate.Enter(principal);
        Assert.True(lease.IsAdmitted);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }

    private static async Task RunOnThreadsAsync(int threads, Action<int> body)
    {
        using var start = new Barrier(threads);
        var tasks = new Task[threads];
        for (var t = 0; t < threads; t++)
        {
            var thread = t;
            tasks[t] = Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                body(thread);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        await Task.WhenAll(tasks);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
