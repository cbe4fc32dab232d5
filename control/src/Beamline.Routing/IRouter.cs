using Beamline.Policies;
using Beamline.Routing.Breakers;
using Beamline.Routing.Fallbacks;

namespace Beamline.Routing;

/// <summary>Chooses providers for requests and learns from the results.</summary>
public interface IRouter
{
    /// <summary>Chooses the provider for one request by its policy. Never throws for a bad request: a failed decision carries the CP1 error.</summary>
    RouteDecision Decide(in RouteRequest request);

    /// <summary>
    /// The executor's next move after <paramref name="failedProvider"/> failed: a retry, a fallback
    /// (whose breaker lets it through), or a failed decision (<c>decision_failed</c>, all
    /// providers failed). Start each request with a <c>default</c> cursor.
    /// </summary>
    RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure);

    /// <summary>Feeds a call's result into the provider's statistics and its circuit breaker.</summary>
    void RecordOutcome(in RouteOutcome outcome);

    /// <summary>
    /// Gives back the half-open trial slot a decision for <paramref name="providerId"/> took when
    /// its call was not made or its outcome will not be recorded (a cancelled call, a request
    /// refused after the decision). Unreported slots also expire on their own after the policy's
    /// <c>half_open_trial_timeout_ms</c>.
    /// </summary>
    void ReleaseTrial(string tenantId, string? policyId, string providerId);

    /// <summary>The state of the breaker for (tenant, policy, provider).</summary>
    CircuitState GetBreakerState(string tenantId, string? policyId, string providerId);
}
