using Beamline.SharedState.Meters;
using Beamline.Testing;

namespace Beamline.SharedState.Tests.Meters;

/// <summary>
/// Shared meters on a real nats-server with JetStream: two instances (own connections, own
/// allowances) on one counters bucket, as two control planes are.
/// </summary>
public sealed class SharedMeterTests(JetStreamFixture fixture) : IClassFixture<JetStreamFixture>
{
    private static readonly MeterClock Now = MeterClock.From(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private readonly string _bucket = $"test-{Guid.NewGuid():N}";

    [Fact]
    public async Task TwoInstances_ConcurrentReservations_OvershootAtMostOneReservationEach()
    {
        const long Limit = 10_000;
        const long Reservation = 70;
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var meterA = a.Meters.Get("budget.tenant.t.t.usd", MeterKind.Spend);
        var meterB = b.Meters.Get("budget.tenant.t.t.usd", MeterKind.Spend);
        var limits = new MeterLimits(Limit, MeterLimits.Unlimited);
        long granted = 0;

        // Eight threads per instance reserve until their instance refuses.
        var threads = Enumerable.Range(0, 16).Select(i => Task.Run(() =>
        {
            var meter = i % 2 == 0 ? meterA : meterB;
            while (meter.TryTake(limits, Reservation, Now, out var refusal))
            {
                Interlocked.Add(ref granted, Reservation);
            }
        })).ToArray();
        await Task.WhenAll(threads);

        Assert.True(granted <= Limit + 2 * Reservation, $"granted {granted} of {Limit}");
        // Refusals came from the limit, not from NATS; at most one chunk (5 %) per instance was left idle elsewhere.
        Assert.True(granted >= Limit - 2 * (Limit / 20) - Reservation, $"granted only {granted} of {Limit}");
        Assert.True(meterA.Writes > 0 && meterB.Writes > 0);
        Assert.True(meterA.LocalGrants + meterB.LocalGrants > 0);
    }

    [Fact]
    public async Task Settle_IsFlushed_AndSeenByAnotherInstance()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var limits = new MeterLimits(1_000_000, 500_000);
        var meterA = a.Meters.Get("budget.key.t.k.usd", MeterKind.Spend);
        Assert.True(meterA.TryTake(limits, 1000, Now, out _));
        meterA.Settle(1000, 600);
        a.Meters.FlushAll(final: true);

        var meterB = b.Meters.Get("budget.key.t.k.usd", MeterKind.Spend);
        Assert.True(meterB.Check(limits, Now, out _));
        var (month, day, _, heldByOthers) = meterB.Read(Now);
        Assert.Equal(600, month);
        Assert.Equal(600, day);
        Assert.Equal(0, heldByOthers);
    }

    [Fact]
    public async Task SettledSpend_PastTheLimit_RefusesOnTheOtherInstance()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var limits = new MeterLimits(MeterLimits.Unlimited, 5_000);
        var meterA = a.Meters.Get("budget.team.t.x.usd", MeterKind.Spend);
        Assert.True(meterA.TryTake(limits, 5_000, Now, out _));
        meterA.Settle(5_000, 5_000);
        a.Meters.FlushAll(final: true);

        var meterB = b.Meters.Get("budget.team.t.x.usd", MeterKind.Spend);
        Assert.False(meterB.TryTake(limits, 1, Now, out var refusal));
        Assert.False(refusal.Unavailable);
        Assert.Equal(1, refusal.Index);
        Assert.Equal(5_000, refusal.Used);
    }

    [Fact]
    public async Task DeadInstance_ItsAllowanceIsDroppedAfterTheHolderTimeout()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var limits = new MeterLimits(100, MeterLimits.Unlimited);
        // A takes the whole limit in flight, then "dies" (never flushes or releases).
        Assert.True(a.Meters.Get("quota.key.t.k.inflight", MeterKind.Gauge).TryTake(limits, 100, Now, out _));
        var meterB = b.Meters.Get("quota.key.t.k.inflight", MeterKind.Gauge);
        Assert.False(meterB.TryTake(limits, 1, Now, out _));

        var later = Now with { UnixMs = Now.UnixMs + (long)TimeSpan.FromSeconds(31).TotalMilliseconds };
        Assert.True(meterB.TryTake(limits, 1, later, out _));
    }

    [Fact]
    public async Task IdleAllowance_IsGivenBack()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var limits = new MeterLimits(100, MeterLimits.Unlimited);
        var meterA = a.Meters.Get("quota.tenant.t.t.inflight", MeterKind.Gauge);
        Assert.True(meterA.TryTake(limits, 1, Now, out _));
        meterA.Give(1);
        var idle = Now with { UnixMs = Now.UnixMs + 1_500 };
        Assert.True(meterA.Flush(idle));

        var meterB = b.Meters.Get("quota.tenant.t.t.inflight", MeterKind.Gauge);
        Assert.True(meterB.TryTake(limits, 100, idle, out _));
        Assert.Equal(0, meterB.Read(idle).HeldByOthers);
    }

    [Fact]
    public async Task NatsDown_GrantsFromTheAllowanceHeld_ThenRefusesAsUnavailable()
    {
        await using var server = await NatsServer.StartAsync(jetStream: true);
        await using var a = await SharedStateInstance.StartAsync(server.Url, "a", _bucket);
        var limits = new MeterLimits(1_000, MeterLimits.Unlimited);
        var meter = a.Meters.Get("budget.tenant.t.t.usd", MeterKind.Spend);
        Assert.True(meter.TryTake(limits, 1, Now, out _)); // takes 1 + a chunk of 50

        await server.KillAsync();
        var fromAllowance = 0;
        MeterRefusal refusal;
        while (meter.TryTake(limits, 1, Now, out refusal))
        {
            fromAllowance++;
            Assert.True(fromAllowance <= 50, "granted past the allowance with NATS down");
        }

        Assert.True(refusal.Unavailable);
        Assert.Equal(50, fromAllowance);
    }

    private Task<SharedStateInstance> StartAsync(string id) => SharedStateInstance.StartAsync(fixture.Server.Url, id, _bucket);
}
