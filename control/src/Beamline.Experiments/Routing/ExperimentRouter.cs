using System.Diagnostics.CodeAnalysis;
using Beamline.Pipeline.Routing;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;

namespace Beamline.Experiments.Routing;

/// <summary>
/// The route stage's hook for experiments: a decorator over the host's <see cref="IPolicyRouter"/>.
/// When the policy a request resolves to has a running (or promoted) experiment and the client did
/// not pin a provider, the request is decided as its user's arm: a provider arm as that provider
/// pinned (with the policy's breakers and fallbacks), a policy arm with that policy. Fallback
/// decisions take the same arm (the assignment is a pure function of the request). When the arm
/// cannot be decided (its provider not allowed for the caller, say) the request is decided as if
/// there were no experiment, and is not counted. Without experiments it costs one volatile read.
/// </summary>
public sealed class ExperimentRouter(IPolicyRouter inner, ExperimentRegistry registry, ExperimentTracker tracker) : IPolicyRouter
{
    /// <summary>The router decorated.</summary>
    public IPolicyRouter Inner { get; } = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <inheritdoc />
    public string InstanceId => Inner.InstanceId;

    /// <inheritdoc />
    public RouteDecision Decide(in RouteRequest request)
    {
        if (TryArm(request, out var routed, out var experiment, out var arm))
        {
            var decision = Inner.Decide(routed);
            if (decision.IsSuccess)
            {
                if (!request.DryRun && request.RequestId is { } requestId)
                {
                    tracker.Assigned(requestId, request.TenantId, experiment, arm);
                }
                return decision;
            }
        }
        return Inner.Decide(request);
    }

    /// <inheritdoc />
    public RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure)
        => TryArm(request, out var routed, out _, out _) && tracker.IsAssigned(request.TenantId, request.RequestId)
            ? Inner.DecideFallback(routed, ref cursor, failedProvider, failure)
            : Inner.DecideFallback(request, ref cursor, failedProvider, failure);

    /// <inheritdoc />
    public void RecordOutcome(in RouteOutcome outcome) => Inner.RecordOutcome(outcome);

    /// <inheritdoc />
    public void ReleaseTrial(string tenantId, string? policyId, string providerId) => Inner.ReleaseTrial(tenantId, policyId, providerId);

    /// <inheritdoc />
    public bool TryGetProvider(string providerId, [NotNullWhen(true)] out ProviderDescriptor? provider) => Inner.TryGetProvider(providerId, out provider);

    /// <inheritdoc />
    public bool TryFindProviderByModel(string model, [NotNullWhen(true)] out ProviderDescriptor? provider) => Inner.TryFindProviderByModel(model, out provider);

    /// <inheritdoc />
    public bool TryGetPolicy(string tenantId, string? policyId, [NotNullWhen(true)] out Policy? policy) => Inner.TryGetPolicy(tenantId, policyId, out policy);

    /// <inheritdoc />
    public string EffectivePolicyId(string tenantId, string? policyId) => Inner.EffectivePolicyId(tenantId, policyId);

    // The request as its arm decides it, when an experiment routes it.
    private bool TryArm(in RouteRequest request, out RouteRequest routed, [NotNullWhen(true)] out Experiment? experiment, out int arm)
    {
        routed = default;
        arm = -1;
        experiment = null;
        if (registry.IsRoutingEmpty || request.PinnedProvider is not null || request.TenantId is null)
        {
            return false;
        }
        if (!registry.TryGetRouting(request.TenantId, Inner.EffectivePolicyId(request.TenantId, request.PolicyId), out experiment)
            || ExperimentAssignment.UnitOf(request.UserId, request.SessionId, request.RequestId) is not { } unit)
        {
            return false;
        }
        arm = experiment.ArmFor(unit);
        var target = experiment.Definition.Arms[arm];
        routed = target.ProviderId is { } provider ? request with { PinnedProvider = provider } : request with { PolicyId = target.PolicyId };
        return true;
    }
}
