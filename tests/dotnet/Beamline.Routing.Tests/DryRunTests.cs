using Beamline.Routing.Breakers;
using Beamline.Testing;

namespace Beamline.Routing.Tests;

/// <summary><see cref="RouteRequest.DryRun"/>: the decision a real request would get, without its side effects.</summary>
public sealed class DryRunTests
{
    [Fact]
    public void Decide_DryRun_StoresNoStickySessionButReadsOne()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var dry = TestRouters.Request("sticky_weights", user: "u1") with { DryRun = true };

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(RouteReasons.Weighted, router.Decide(dry).Reason);
        }
        Assert.Equal(0, router.Sessions.Count);

        var real = router.Decide(TestRouters.Request("sticky_weights", user: "u1"));
        Assert.Equal(RouteReasons.Weighted, real.Reason);
        var again = router.Decide(dry);
        Assert.Equal(RouteReasons.Sticky, again.Reason);
        Assert.Equal(real.ProviderId, again.ProviderId);
    }

    [Fact]
    public void Decide_DryRunOnHalfOpenBreaker_TakesNoTrialSlot()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromJson("""
            {"providers":[{"name":"openai","weight":100}],
             "circuit_breaker":{"enabled":true,"failure_threshold":2,"timeout_ms":1000,"half_open_max_calls":2}}
            """, time);
        TestRouters.Fail(router, "p", "openai", 2);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(CircuitState.HalfOpen, router.GetBreakerState("t1", "p", "openai"));

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("openai", router.Decide(TestRouters.Request("p") with { DryRun = true }).ProviderId);
        }

        // Both trial slots are still there for real requests, and a dry run then sees them taken.
        Assert.Equal("openai", router.Decide(TestRouters.Request("p")).ProviderId);
        Assert.Equal("openai", router.Decide(TestRouters.Request("p")).ProviderId);
        Assert.False(router.Decide(TestRouters.Request("p")).IsSuccess);
        Assert.False(router.Decide(TestRouters.Request("p") with { DryRun = true }).IsSuccess);
    }
}
