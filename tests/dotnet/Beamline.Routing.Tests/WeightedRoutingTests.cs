using Beamline.Testing;

namespace Beamline.Routing.Tests;

public sealed class WeightedRoutingTests
{
    [Theory]
    [InlineData("default", "openai", 0.7)]
    [InlineData("sticky_weights", "openai", 0.6)]
    [InlineData("legacy_format", "openai", 0.7)]
    [InlineData("circuit_breaker_basic", "openai", 0.7)]
    [InlineData("extensions_full", "anthropic", 0.3)]
    public void Decide_TenThousandSeededDecisions_FollowTheWeightsWithinFourSigma(string policy, string provider, double share)
    {
        const int N = 10_000;
        var router = TestRouters.FromFixtures(new ManualTimeProvider(), seed: 7);
        var hits = 0;
        for (var i = 0; i < N; i++)
        {
            // No session value: sticky policies fall through to the weighted pick.
            var decision = router.Decide(TestRouters.Request(policy));
            Assert.Equal(RouteReasons.Weighted, decision.Reason);
            hits += decision.ProviderId == provider ? 1 : 0;
        }
        var sigma = Math.Sqrt(N * share * (1 - share));
        Assert.InRange(hits, N * share - 4 * sigma, N * share + 4 * sigma);
    }

    [Fact]
    public void Decide_SameSeed_GivesTheSameSequence()
    {
        var a = TestRouters.FromFixtures(new ManualTimeProvider(), seed: 99);
        var b = TestRouters.FromFixtures(new ManualTimeProvider(), seed: 99);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(a.Decide(TestRouters.Request("default")).ProviderId, b.Decide(TestRouters.Request("default")).ProviderId);
        }
    }

    [Fact]
    public void Decide_Weighted_ReportsCp1Fields()
    {
        var decision = TestRouters.FromFixtures(new ManualTimeProvider()).Decide(TestRouters.Request("default"));
        Assert.True(decision.IsSuccess);
        Assert.Equal(50, decision.Priority);
        Assert.Equal("default", decision.PolicyId);
        Assert.Equal("weighted_random", decision.Metadata["algorithm"]);
        Assert.Equal("{\"openai\": 0.7, \"anthropic\": 0.3}", decision.Metadata["weights"]);
        Assert.NotNull(decision.Fallbacks);
        Assert.True(decision.ExpectedLatencyMs > 0);
        Assert.True(decision.ExpectedCost > 0);
    }

    [Fact]
    public void Decide_UnknownPolicy_ReturnsPolicyNotFound()
    {
        var decision = TestRouters.FromFixtures(new ManualTimeProvider()).Decide(TestRouters.Request("nope"));
        Assert.False(decision.IsSuccess);
        Assert.Equal(RouteErrorCodes.PolicyNotFound, decision.ErrorCode);
        Assert.Contains("nope", decision.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_NoPolicyId_UsesTheDefaultPolicy()
    {
        var decision = TestRouters.FromFixtures(new ManualTimeProvider()).Decide(new RouteRequest { TenantId = "t" });
        Assert.Equal("default", decision.PolicyId);
    }

    [Fact]
    public void Decide_SteadyState_AllocatesNothing()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var request = TestRouters.Request("circuit_breaker_basic");
        TestRouters.Succeed(router, "circuit_breaker_basic", "openai", 1);
        for (var i = 0; i < 1_000; i++)
        {
            router.Decide(request);
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            router.Decide(request);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
