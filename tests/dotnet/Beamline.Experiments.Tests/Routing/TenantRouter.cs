using System.Diagnostics.CodeAnalysis;
using Beamline.Pipeline.Routing;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;

namespace Beamline.Experiments.Tests.Routing;

/// <summary>A real router over one tenant's policies, as the host's routing service serves it.</summary>
internal sealed class TenantRouter : IPolicyRouter
{
    private readonly Router _router;
    private readonly PolicySet _policies;

    public TenantRouter(params (string Id, string Json)[] policies)
    {
        var loaded = new List<Policy>();
        foreach (var (id, json) in policies)
        {
            var result = PolicyLoader.Load(id, System.Text.Encoding.UTF8.GetBytes(json));
            Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
            loaded.Add(result.Policy!);
        }
        _policies = new PolicySet(loaded);
        var catalog = new ProviderCatalog(
        [
            new ProviderDescriptor { Id = "a", Kind = ProviderKind.Block, BlockType = "test.a" },
            new ProviderDescriptor { Id = "b", Kind = ProviderKind.Block, BlockType = "test.b" },
            new ProviderDescriptor { Id = "c", Kind = ProviderKind.Block, BlockType = "test.c" },
        ]);
        _router = new Router(catalog, _policies, new RouterOptions { DefaultPolicyId = "default" }, TimeProvider.System, new RandomSource(7));
    }

    public string InstanceId => "test";

    public RouteDecision Decide(in RouteRequest request) => _router.Decide(request);

    public RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure)
        => _router.DecideFallback(request, ref cursor, failedProvider, failure);

    public void RecordOutcome(in RouteOutcome outcome) => _router.RecordOutcome(outcome);

    public void ReleaseTrial(string tenantId, string? policyId, string providerId) => _router.ReleaseTrial(tenantId, policyId, providerId);

    public bool TryGetProvider(string providerId, [NotNullWhen(true)] out ProviderDescriptor? provider)
    {
        provider = _router.Catalog.TryGet(providerId, out var entry) ? entry.Descriptor : null;
        return provider is not null;
    }

    public bool TryFindProviderByModel(string model, [NotNullWhen(true)] out ProviderDescriptor? provider)
    {
        provider = null;
        return false;
    }

    public bool TryGetPolicy(string tenantId, string? policyId, [NotNullWhen(true)] out Policy? policy) => _policies.TryGet(policyId ?? "default", out policy);

    public string EffectivePolicyId(string tenantId, string? policyId) => policyId ?? "default";
}
