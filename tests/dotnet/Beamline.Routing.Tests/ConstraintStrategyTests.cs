using Beamline.Testing;

namespace Beamline.Routing.Tests;

public sealed class ConstraintStrategyTests
{
    private const string Strategy = """{"strategy": "STRATEGY", "providers": ["openai", "anthropic", "local_llm"]}""";

    [Theory]
    [InlineData("cheapest", "local_llm", RouteReasons.Cheapest)]
    [InlineData("fastest", "anthropic", RouteReasons.Fastest)]
    [InlineData("best_quality", "anthropic", RouteReasons.BestQuality)]
    public void Decide_Strategy_PicksTheBestProvider(string strategy, string expected, string reason)
    {
        var router = TestRouters.FromJson(Strategy.Replace("STRATEGY", strategy, StringComparison.Ordinal), new ManualTimeProvider());
        var decision = router.Decide(new RouteRequest { TenantId = "t" });
        Assert.Equal(expected, decision.ProviderId);
        Assert.Equal(reason, decision.Reason);
    }

    [Fact]
    public void Decide_Fastest_FollowsObservedLatency()
    {
        var router = TestRouters.FromJson(Strategy.Replace("STRATEGY", "fastest", StringComparison.Ordinal), new ManualTimeProvider());
        TestRouters.Succeed(router, "p", "openai", 20, latencyMs: 50);
        Assert.Equal("openai", router.Decide(new RouteRequest { TenantId = "t" }).ProviderId);
        Assert.Equal(50, router.Catalog.Entries.Single(e => e.Id == "openai").Stats.LatencyMs, 3);
    }

    [Fact]
    public void Decide_MaxLatency_FiltersSlowProviders()
    {
        var router = TestRouters.FromJson(Strategy.Replace("STRATEGY", "cheapest", StringComparison.Ordinal), new ManualTimeProvider());
        // local_llm (free, 2000 ms) is too slow; openai is the cheapest of the rest.
        Assert.Equal("openai", router.Decide(new RouteRequest { TenantId = "t", MaxLatencyMs = 1500 }).ProviderId);
    }

    [Fact]
    public void Decide_MaxCost_FiltersExpensiveProvidersFromTheWeightedPick()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        // 1000 input + 500 output tokens: openai ≈ 0.00045, anthropic ≈ 0.0028.
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal("openai", router.Decide(new RouteRequest { TenantId = "t", PolicyId = "default", MaxCost = 0.001 }).ProviderId);
        }
    }

    [Fact]
    public void Decide_NoProviderMeetsConstraints_FailsNamingThem()
    {
        var decision = TestRouters.FromFixtures(new ManualTimeProvider()).Decide(new RouteRequest { TenantId = "t", PolicyId = "default", MaxCost = 0.00001 });
        Assert.Equal(RouteErrorCodes.DecisionFailed, decision.ErrorCode);
        Assert.Contains("max_cost=1E-05", decision.ErrorMessage, StringComparison.Ordinal);
    }
}
