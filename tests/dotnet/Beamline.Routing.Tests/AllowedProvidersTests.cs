using Beamline.Policies;
using Beamline.Routing.Fallbacks;
using Beamline.Testing;

namespace Beamline.Routing.Tests;

/// <summary>A request's <c>AllowedProviders</c> (tenancy's allow-list): the router never picks another provider.</summary>
public sealed class AllowedProvidersTests
{
    [Fact]
    public void Decide_AllowList_PicksOnlyAllowedProviders()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        for (var i = 0; i < 200; i++)
        {
            var decision = router.Decide(new RouteRequest { TenantId = "t", PolicyId = "default", AllowedProviders = ["anthropic"] });
            Assert.Equal("anthropic", decision.ProviderId);
        }
    }

    [Fact]
    public void Decide_NoPolicyProviderAllowed_FailsAsWhenConstraintsExcludeAll()
    {
        var decision = TestRouters.FromFixtures(new ManualTimeProvider())
            .Decide(new RouteRequest { TenantId = "t", PolicyId = "default", AllowedProviders = ["local_llm"] });

        Assert.Equal(RouteErrorCodes.DecisionFailed, decision.ErrorCode);
        Assert.Contains("no provider meets the constraints", decision.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("allowed_providers=[local_llm]", decision.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_StickyProviderNotAllowed_IsNotReturned()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var user = Enumerable.Range(0, 100).Select(i => $"user_{i}")
            .First(u => router.Decide(TestRouters.Request("default", u)).ProviderId == "openai");

        var decision = router.Decide(new RouteRequest { TenantId = "t1", PolicyId = "default", UserId = user, AllowedProviders = ["anthropic"] });

        Assert.Equal("anthropic", decision.ProviderId);
    }

    [Fact]
    public void DecideFallback_TargetNotAllowed_IsPassedOver()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var request = new RouteRequest { TenantId = "t", PolicyId = "default", MessageType = "chat", AllowedProviders = ["openai"] };
        var cursor = default(FallbackCursor);

        Assert.Equal("openai", router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout).ProviderId);
        Assert.Equal("openai", router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout).ProviderId);
        // The plan's next step is anthropic, which this caller may not use.
        var exhausted = router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout);

        Assert.False(exhausted.IsSuccess);
        Assert.Equal(RouteErrorCodes.DecisionFailed, exhausted.ErrorCode);
    }
}
