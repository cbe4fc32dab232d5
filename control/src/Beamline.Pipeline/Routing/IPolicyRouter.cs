using System.Diagnostics.CodeAnalysis;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;

namespace Beamline.Pipeline.Routing;

/// <summary>
/// The route stage's port: the tenant-scoped router as the host keeps it (one router per tenant,
/// rebuilt when tenancy changes). Implemented by the host's routing service.
/// </summary>
public interface IPolicyRouter
{
    /// <summary>A unique id of this process, reported as <c>instance_id</c>.</summary>
    string InstanceId { get; }

    /// <summary>Decides with the tenant's policy (its default when none is named).</summary>
    RouteDecision Decide(in RouteRequest request);

    /// <summary>The next provider after a failure, or a failed decision when the plan is exhausted.</summary>
    RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure);

    /// <summary>Feeds one call's result into the tenant's statistics and breakers.</summary>
    void RecordOutcome(in RouteOutcome outcome);

    /// <summary>Gives back a half-open trial slot whose outcome will not be recorded.</summary>
    void ReleaseTrial(string tenantId, string? policyId, string providerId);

    /// <summary>The provider entry of <paramref name="providerId"/>.</summary>
    bool TryGetProvider(string providerId, [NotNullWhen(true)] out ProviderDescriptor? provider);

    /// <summary>A provider whose <c>model</c> (or one of whose <c>models</c>) is <paramref name="model"/>; the first by id.</summary>
    bool TryFindProviderByModel(string model, [NotNullWhen(true)] out ProviderDescriptor? provider);

    /// <summary>The policy a request of <paramref name="tenantId"/> naming <paramref name="policyId"/> (or none) uses.</summary>
    bool TryGetPolicy(string tenantId, string? policyId, [NotNullWhen(true)] out Policy? policy);

    /// <summary>The policy id a request of <paramref name="tenantId"/> resolves to.</summary>
    string EffectivePolicyId(string tenantId, string? policyId);
}
