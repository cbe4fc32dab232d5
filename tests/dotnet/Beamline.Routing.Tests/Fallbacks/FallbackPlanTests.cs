using Beamline.Policies;
using Beamline.Routing.Fallbacks;
using Beamline.Testing;

namespace Beamline.Routing.Tests.Fallbacks;

public sealed class FallbackPlanTests
{
    private static FallbackPlan Plan(string id) => FallbackPlan.For(PolicyLoader.LoadOrThrow(Cp1Fixtures.Policy(id)));

    [Fact]
    public void Next_DefaultOnTimeouts_RetriesTwiceThenSwitchesThenGivesUp()
    {
        var plan = Plan("default");
        var cursor = default(FallbackCursor);
        Assert.Equal(new FallbackStep(FallbackAction.Retry, "openai", 0, 1), plan.Next(ref cursor, "openai", FailureKinds.Timeout, "chat"));
        Assert.Equal(new FallbackStep(FallbackAction.Retry, "openai", 0, 2), plan.Next(ref cursor, "openai", FailureKinds.ServerError, "chat"));
        Assert.Equal(new FallbackStep(FallbackAction.Switch, "anthropic", 0, 0), plan.Next(ref cursor, "openai", FailureKinds.Timeout, "chat"));
        Assert.Equal(FallbackAction.GiveUp, plan.Next(ref cursor, "anthropic", FailureKinds.Timeout, "chat").Action);
        Assert.Equal(4, cursor.Failures);
    }

    [Fact]
    public void Next_DefaultRateLimited_RetriesOnceThenGoesToLocal()
    {
        var plan = Plan("default");
        var cursor = default(FallbackCursor);
        Assert.Equal(FallbackAction.Retry, plan.Next(ref cursor, "openai", FailureKinds.RateLimited, null).Action);
        Assert.Equal(new FallbackStep(FallbackAction.Switch, "local_llm", 1, 0), plan.Next(ref cursor, "openai", FailureKinds.RateLimited, null));
    }

    [Fact]
    public void Next_ChainOfRules_FollowsThemInOrder()
    {
        var plan = Plan("default");
        var cursor = default(FallbackCursor);
        plan.Next(ref cursor, "openai", FailureKinds.Timeout, null);
        plan.Next(ref cursor, "openai", FailureKinds.Timeout, null);
        Assert.Equal("anthropic", plan.Next(ref cursor, "openai", FailureKinds.Timeout, null).ProviderId);
        Assert.Equal(FallbackAction.Retry, plan.Next(ref cursor, "anthropic", FailureKinds.RateLimited, null).Action);
        Assert.Equal("local_llm", plan.Next(ref cursor, "anthropic", FailureKinds.RateLimited, null).ProviderId);
        Assert.Equal(FallbackAction.GiveUp, plan.Next(ref cursor, "local_llm", FailureKinds.RateLimited, null).Action);
    }

    [Fact]
    public void Next_FailureOfTheTargetItself_SkipsToTheNextRule()
    {
        var plan = Plan("default");
        var cursor = default(FallbackCursor);
        plan.Next(ref cursor, "anthropic", FailureKinds.Timeout, null);
        plan.Next(ref cursor, "anthropic", FailureKinds.Timeout, null);
        // Rule 0's target is the failing provider: no switch to itself; nothing else handles a timeout.
        Assert.Equal(FallbackAction.GiveUp, plan.Next(ref cursor, "anthropic", FailureKinds.Timeout, null).Action);
    }

    [Fact]
    public void Next_Legacy_SwitchesAtOnceAndCatchesAllProvidersFailed()
    {
        var plan = Plan("legacy_format");
        var timeout = default(FallbackCursor);
        Assert.Equal(new FallbackStep(FallbackAction.Switch, "local_llm", 0, 0), plan.Next(ref timeout, "openai", FailureKinds.Timeout, null));
        var serverError = default(FallbackCursor);
        Assert.Equal("local_llm", plan.Next(ref serverError, "openai", FailureKinds.ServerError, null).ProviderId);
    }

    [Fact]
    public void Next_MessageTypeRule_AppliesOnlyToThatType()
    {
        var plan = FallbackPlan.For(PolicyLoader.Load("p", """
            {"weights": {"a": 1}, "fallbacks": [{"when": {"status": ["503"], "message_type": ["embedding"]}, "retry": 0, "to": "b"}]}
            """u8).Policy!);
        var chat = default(FallbackCursor);
        Assert.Equal(FallbackAction.GiveUp, plan.Next(ref chat, "a", FailureKinds.ServiceUnavailable, "chat").Action);
        var embedding = default(FallbackCursor);
        Assert.Equal("b", plan.Next(ref embedding, "a", FailureKindNames.FromHttpStatus(503), "embedding").ProviderId);
    }

    [Fact]
    public void DecideFallback_Default_WalksRetriesThenFallbackThenFails()
    {
        var router = TestRouters.FromFixtures(new ManualTimeProvider());
        var request = TestRouters.Request("default");
        var cursor = default(FallbackCursor);
        Assert.Equal(RouteReasons.Retry, router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout).Reason);
        Assert.Equal(RouteReasons.Retry, router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout).Reason);
        var fallback = router.DecideFallback(request, ref cursor, "openai", FailureKinds.Timeout);
        Assert.Equal(("anthropic", RouteReasons.Fallback), (fallback.ProviderId, fallback.Reason));
        var end = router.DecideFallback(request, ref cursor, "anthropic", FailureKinds.Timeout);
        Assert.Equal(RouteErrorCodes.DecisionFailed, end.ErrorCode);
        Assert.Contains("all_providers_failed", end.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void DecideFallback_RetryTargetBreakerOpen_SkipsItsRetries()
    {
        var router = TestRouters.FromJson("""
            {"weights": {"openai": 1}, "circuit_breaker": {"failure_threshold": 1},
             "fallbacks": [{"when": {"status": ["5xx"]}, "retry": 3, "to": "anthropic"}]}
            """, new ManualTimeProvider());
        TestRouters.Fail(router, "p", "openai", 1);
        var cursor = default(FallbackCursor);
        var next = router.DecideFallback(TestRouters.Request("p"), ref cursor, "openai", FailureKinds.ServerError);
        Assert.Equal(("anthropic", RouteReasons.Fallback), (next.ProviderId, next.Reason));
    }
}
