using Beamline.Policies;
using Beamline.Routing.Breakers;
using Beamline.Testing;

namespace Beamline.Routing.Tests.Breakers;

public sealed class CircuitBreakerTests
{
    private static readonly CircuitBreakerSettings Settings = new()
    {
        FailureThreshold = 5,
        SuccessThreshold = 2,
        HalfOpenMaxCalls = 3,
        OpenTimeout = TimeSpan.FromSeconds(60),
    };

    [Fact]
    public void OnFailure_ThresholdConsecutiveFailures_Opens()
    {
        var breaker = new CircuitBreaker(Settings, new ManualTimeProvider());
        for (var i = 0; i < 4; i++)
        {
            breaker.OnFailure();
        }
        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnFailure();
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());
    }

    [Fact]
    public void OnSuccess_BetweenFailures_ResetsTheCount()
    {
        var breaker = new CircuitBreaker(Settings, new ManualTimeProvider());
        for (var i = 0; i < 20; i++)
        {
            breaker.OnFailure();
            breaker.OnFailure();
            breaker.OnSuccess();
        }
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void TryAcquire_AfterOpenTimeout_GoesHalfOpenAndLimitsTrialCalls()
    {
        var time = new ManualTimeProvider();
        var breaker = Opened(time);
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
        Assert.False(breaker.IsCallPermitted());
    }

    [Fact]
    public void OnSuccess_SuccessThresholdInHalfOpen_Closes()
    {
        var time = new ManualTimeProvider();
        var breaker = Opened(time);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        breaker.OnSuccess();
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void OnFailure_InHalfOpen_ReopensForAnotherTimeout()
    {
        var time = new ManualTimeProvider();
        var breaker = Opened(time);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(breaker.TryAcquire());
        breaker.OnFailure();
        Assert.Equal(CircuitState.Open, breaker.State);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(breaker.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void TryAcquire_TrialsNeverReported_AreReleasedAfterTheTrialTimeout()
    {
        var time = new ManualTimeProvider();
        var breaker = Opened(time);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());

        time.Advance(Settings.TrialTimeout);

        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.IsCallPermitted());
        Assert.True(breaker.TryAcquire());
        breaker.OnSuccess();
        Assert.True(breaker.TryAcquire());
        breaker.OnSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void ReleaseTrial_GivesTheSlotBackWithoutCountingAnOutcome()
    {
        var time = new ManualTimeProvider();
        var breaker = Opened(time);
        time.Advance(TimeSpan.FromSeconds(60));
        for (var i = 0; i < Settings.HalfOpenMaxCalls; i++)
        {
            Assert.True(breaker.TryAcquire());
        }
        Assert.False(breaker.TryAcquire());

        breaker.ReleaseTrial();

        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
    }

    [Fact]
    public void OnFailure_ErrorRateOverTheWindow_Opens()
    {
        var time = new ManualTimeProvider();
        var breaker = new CircuitBreaker(Settings with { FailureThreshold = 10, ErrorRateThreshold = 0.5, ErrorRateWindow = TimeSpan.FromSeconds(10) }, time);
        for (var i = 0; i < 9; i++)
        {
            // Alternating: never 10 consecutive failures, but a 50 % error rate once 10 calls are in the window.
            if (i % 2 == 0) { breaker.OnFailure(); } else { breaker.OnSuccess(); }
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnSuccess();
        breaker.OnFailure();
        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void OnFailure_ErrorsOutsideTheWindow_DoNotCount()
    {
        var time = new ManualTimeProvider();
        var breaker = new CircuitBreaker(Settings with { FailureThreshold = 4, ErrorRateThreshold = 0.5, ErrorRateWindow = TimeSpan.FromSeconds(10) }, time);
        for (var i = 0; i < 30; i++)
        {
            breaker.OnSuccess();
            breaker.OnSuccess();
            breaker.OnFailure();
            time.Advance(TimeSpan.FromSeconds(1)); // 33 % error rate, never 4 in a row
        }
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void Decide_BreakerOpenOnThePick_RoutesToTheCircuitBreakerOpenFallback()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromFixtures(time);
        TestRouters.Fail(router, "circuit_breaker_basic", "openai", 5);
        Assert.Equal(CircuitState.Open, router.GetBreakerState("t1", "circuit_breaker_basic", "openai"));
        Assert.Equal(CircuitState.Closed, router.GetBreakerState("t2", "circuit_breaker_basic", "openai"));
        var reasons = new Dictionary<string, int>();
        for (var i = 0; i < 1_000; i++)
        {
            var decision = router.Decide(TestRouters.Request("circuit_breaker_basic"));
            Assert.Equal("anthropic", decision.ProviderId);
            reasons[decision.Reason] = reasons.GetValueOrDefault(decision.Reason) + 1;
        }
        Assert.True(reasons[RouteReasons.Fallback] > 500);
        // Another tenant is unaffected: the breaker's scope is (tenant, policy, provider).
        Assert.Contains(Enumerable.Range(0, 50).Select(_ => router.Decide(TestRouters.Request("circuit_breaker_basic", tenant: "t2")).ProviderId), p => p == "openai");
        time.Advance(TimeSpan.FromSeconds(60));
        var trials = Enumerable.Range(0, 200).Count(_ => router.Decide(TestRouters.Request("circuit_breaker_basic")).ProviderId == "openai");
        Assert.Equal(3, trials); // half_open_max_calls
        TestRouters.Succeed(router, "circuit_breaker_basic", "openai", 2);
        Assert.Equal(CircuitState.Closed, router.GetBreakerState("t1", "circuit_breaker_basic", "openai"));
    }

    [Fact]
    public void Decide_EveryBreakerOpen_FailsWithAllProvidersFailed()
    {
        var router = TestRouters.FromJson("""{"weights": {"openai": 1, "anthropic": 1}, "circuit_breaker": {"failure_threshold": 2}}""", new ManualTimeProvider());
        TestRouters.Fail(router, "p", "openai", 2);
        TestRouters.Fail(router, "p", "anthropic", 2);
        var decision = router.Decide(TestRouters.Request("p"));
        Assert.Equal(RouteErrorCodes.DecisionFailed, decision.ErrorCode);
        Assert.Contains("all_providers_failed", decision.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_EveryBreakerOpenWithLegacyFallback_RoutesToIt()
    {
        var router = TestRouters.FromJson("""
            {"weights": {"openai": 1, "anthropic": 1}, "circuit_breaker": {"failure_threshold": 1},
             "fallback": {"provider": "local_llm", "conditions": ["all_providers_failed"]}}
            """, new ManualTimeProvider());
        TestRouters.Fail(router, "p", "openai", 1);
        TestRouters.Fail(router, "p", "anthropic", 1);
        var decision = router.Decide(TestRouters.Request("p"));
        Assert.Equal("local_llm", decision.ProviderId);
        Assert.Equal(RouteReasons.Fallback, decision.Reason);
    }

    [Fact]
    public void Decide_HalfOpenTrialsOfDecideOnlyRequests_DoNotKeepTheBreakerHalfOpenForever()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromFixtures(time);
        TestRouters.Fail(router, "circuit_breaker_basic", "openai", 5);
        time.Advance(TimeSpan.FromSeconds(60));
        // Three decide-only requests take the three trial slots and never report an outcome.
        var trials = Enumerable.Range(0, 200).Count(_ => router.Decide(TestRouters.Request("circuit_breaker_basic")).ProviderId == "openai");
        Assert.Equal(3, trials);

        time.Advance(new CircuitBreakerSettings().TrialTimeout);

        Assert.Contains(Enumerable.Range(0, 200).Select(_ => router.Decide(TestRouters.Request("circuit_breaker_basic")).ProviderId), p => p == "openai");
        TestRouters.Succeed(router, "circuit_breaker_basic", "openai", 2);
        Assert.Equal(CircuitState.Closed, router.GetBreakerState("t1", "circuit_breaker_basic", "openai"));
    }

    [Fact]
    public void ReleaseTrial_CallNeverMade_FreesTheDecisionsTrialSlot()
    {
        var time = new ManualTimeProvider();
        var router = TestRouters.FromJson("""{"weights": {"openai": 1}, "circuit_breaker": {"failure_threshold": 1, "half_open_max_calls": 1, "timeout_ms": 1000}}""", time);
        TestRouters.Fail(router, "p", "openai", 1);
        time.Advance(TimeSpan.FromSeconds(1));
        var decision = router.Decide(TestRouters.Request("p"));
        Assert.Equal("openai", decision.ProviderId);
        Assert.False(router.Decide(TestRouters.Request("p")).IsSuccess);

        // A cancelled execute: no outcome to report, the slot is given back.
        router.ReleaseTrial("t1", decision.PolicyId, decision.ProviderId!);

        Assert.Equal("openai", router.Decide(TestRouters.Request("p")).ProviderId);
        Assert.Equal(CircuitState.HalfOpen, router.GetBreakerState("t1", "p", "openai"));
    }

    private static CircuitBreaker Opened(ManualTimeProvider time)
    {
        var breaker = new CircuitBreaker(Settings, time);
        for (var i = 0; i < Settings.FailureThreshold; i++)
        {
            breaker.OnFailure();
        }
        Assert.Equal(CircuitState.Open, breaker.State);
        return breaker;
    }
}
