using System.Collections.Immutable;
using Beamline.Policies;
using Beamline.Testing;

namespace Beamline.Routing.Tests;

/// <summary>A provider the client named (the gateway's model): decided as that provider, under the policy's rules.</summary>
public sealed class PinnedProviderTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void Pinned_DecidesThatProviderWhateverTheWeights()
    {
        var router = TestRouters.FromFixtures(_time);

        for (var i = 0; i < 20; i++)
        {
            var decision = router.Decide(TestRouters.Request("default") with { PinnedProvider = "anthropic" });
            Assert.Equal("anthropic", decision.ProviderId);
            Assert.Equal(RouteReasons.Pinned, decision.Reason);
            Assert.Equal("default", decision.PolicyId);
            Assert.NotNull(decision.Fallbacks);
        }
    }

    [Fact]
    public void Pinned_OutsideTheKeysAllowList_Fails()
    {
        var router = TestRouters.FromFixtures(_time);

        var decision = router.Decide(TestRouters.Request("default") with { PinnedProvider = "anthropic", AllowedProviders = ImmutableArray.Create("openai") });

        Assert.False(decision.IsSuccess);
        Assert.Contains("not allowed", decision.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Pinned_UnknownProvider_Fails()
    {
        var router = TestRouters.FromFixtures(_time);

        Assert.False(router.Decide(TestRouters.Request("default") with { PinnedProvider = "nobody" }).IsSuccess);
    }

    [Fact]
    public void Pinned_OpenBreaker_TakesThePolicysCircuitBreakerRule()
    {
        var router = TestRouters.FromFixtures(_time);
        TestRouters.Fail(router, "circuit_breaker_basic", "openai", 5);

        var decision = router.Decide(TestRouters.Request("circuit_breaker_basic") with { PinnedProvider = "openai" });

        Assert.Equal("anthropic", decision.ProviderId);
        Assert.Equal(RouteReasons.Fallback, decision.Reason);
    }

    [Fact]
    public void Pinned_FailedCall_FallsBackByThePolicysPlan()
    {
        var router = TestRouters.FromFixtures(_time);
        var request = TestRouters.Request("default") with { PinnedProvider = "openai" };
        var cursor = default(Beamline.Routing.Fallbacks.FallbackCursor);

        var first = router.Decide(request);
        var next = router.DecideFallback(request, ref cursor, first.ProviderId!, FailureKinds.ServerError);

        Assert.Equal("openai", first.ProviderId);
        Assert.True(next.IsSuccess);
    }
}
