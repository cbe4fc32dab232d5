using Beamline.Routing.Sticky;
using Beamline.Testing;

namespace Beamline.Routing.Tests.Sticky;

public sealed class StickySessionTests
{
    [Fact]
    public void Decide_SameUser_KeepsItsProviderUntilTheTtl()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromFixtures(time);
        var first = router.Decide(TestRouters.Request("default", user: "u1"));
        Assert.Equal(RouteReasons.Weighted, first.Reason);
        for (var i = 0; i < 100; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5)); // 500 s < 10 min
            var next = router.Decide(TestRouters.Request("default", user: "u1"));
            Assert.Equal(first.ProviderId, next.ProviderId);
            Assert.Equal(RouteReasons.Sticky, next.Reason);
            Assert.Equal("user_id", next.Metadata["session_key"]);
        }
        time.Advance(TimeSpan.FromMinutes(2)); // past 10 minutes since the assignment
        Assert.Equal(RouteReasons.Weighted, router.Decide(TestRouters.Request("default", user: "u1")).Reason);
    }

    [Fact]
    public void Decide_ManyUsers_EachGetTheirOwnStickyProvider()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var assigned = new Dictionary<string, string>();
        for (var u = 0; u < 200; u++)
        {
            assigned[$"u{u}"] = router.Decide(TestRouters.Request("sticky_weights", user: $"u{u}")).ProviderId!;
        }
        Assert.Contains("openai", assigned.Values);
        Assert.Contains("anthropic", assigned.Values);
        foreach (var (user, provider) in assigned)
        {
            Assert.Equal(provider, router.Decide(TestRouters.Request("sticky_weights", user: user)).ProviderId);
        }
    }

    [Fact]
    public void Decide_SessionKeyAbsent_IsNotSticky()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        router.Decide(TestRouters.Request("default"));
        Assert.Equal(0, router.Sessions.Count);
    }

    [Fact]
    public void Decide_LegacyPolicy_UsesSessionIdAndTtlSeconds()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromFixtures(time);
        var request = new RouteRequest { TenantId = "t", PolicyId = "legacy_format", SessionId = "s1" };
        var first = router.Decide(request).ProviderId;
        time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(RouteReasons.Sticky, router.Decide(request).Reason);
        Assert.Equal(first, router.Decide(request).ProviderId);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(RouteReasons.Weighted, router.Decide(request).Reason);
    }

    [Fact]
    public void Decide_StickyProviderBreakerOpen_ChoosesAgain()
    {
        var router = TestRouters.FromJson("""
            {"weights": {"openai": 1, "anthropic": 1}, "sticky": {"session_key": "user_id", "ttl": "1h"},
             "circuit_breaker": {"failure_threshold": 1}}
            """, new ManualTimeProvider());
        var first = router.Decide(TestRouters.Request("p", user: "u")).ProviderId!;
        TestRouters.Fail(router, "p", first, 1);
        var next = router.Decide(TestRouters.Request("p", user: "u"));
        Assert.NotEqual(first, next.ProviderId);
    }

    [Fact]
    public void Set_BeyondCapacity_StaysBounded()
    {
        var store = new StickySessionStore(capacity: 100);
        for (var i = 0; i < 10_000; i++)
        {
            store.Set(new StickyKey("t", "p", $"s{i}"), "openai", expiresAt: 1_000 + i, now: 0);
            Assert.True(store.Count <= 100, $"count {store.Count} after {i + 1} inserts");
        }
    }

    [Fact]
    public void Set_BeyondCapacity_EvictsExpiredEntriesFirst()
    {
        var store = new StickySessionStore(capacity: 10);
        for (var i = 0; i < 10; i++)
        {
            store.Set(new StickyKey("t", "p", $"old{i}"), "a", expiresAt: i < 5 ? 50 : 1_000, now: 0);
        }
        store.Set(new StickyKey("t", "p", "new"), "b", expiresAt: 1_000, now: 100);
        Assert.Equal(6, store.Count);
        Assert.True(store.TryGet(new StickyKey("t", "p", "new"), 100, out _));
        Assert.True(store.TryGet(new StickyKey("t", "p", "old9"), 100, out _));
    }
}
