using Beamline.Pipeline.Routing;
using Beamline.Routing.Catalog;

namespace Beamline.Gateway;

/// <summary>What a gateway request's <c>model</c> names.</summary>
/// <param name="PolicyId">A policy of the tenant to route by, or null for the tenant's default.</param>
/// <param name="PinnedProvider">A provider to call (with the default policy's fallbacks), or null.</param>
public readonly record struct ModelRoute(string? PolicyId, string? PinnedProvider);

/// <summary>
/// Resolves a gateway <c>model</c>: a policy id of the tenant (routed by that policy), else a
/// provider id or a provider's model name (that provider, with the tenant's fallbacks), else the
/// tenant's default policy.
/// </summary>
public static class ModelRoutes
{
    /// <summary>The route <paramref name="model"/> names for <paramref name="tenantId"/>.</summary>
    public static ModelRoute Resolve(IPolicyRouter routing, string tenantId, string? model)
    {
        ArgumentNullException.ThrowIfNull(routing);
        if (string.IsNullOrEmpty(model))
        {
            return default;
        }
        if (routing.TryGetPolicy(tenantId, model, out _))
        {
            return new ModelRoute(model, null);
        }
        if (routing.TryGetProvider(model, out var provider) || routing.TryFindProviderByModel(model, out provider))
        {
            return new ModelRoute(null, provider.Id);
        }
        return default;
    }

    /// <summary>The request metadata key a gateway face puts the client's <c>model</c> under.</summary>
    public const string GatewayModelKey = "gateway_model";

    /// <summary>
    /// The model <paramref name="provider"/> is asked for on a gateway request whose client asked
    /// for <paramref name="asked"/>: that name when the entry offers it by that name, else the
    /// entry's own model (the client's model named a route, not an upstream model); null when the
    /// entry names no model (the body's <c>model</c> is sent as it is). The provider clients build
    /// the upstream body with it and cost tracking prices the call by it: the two must agree.
    /// </summary>
    public static string? UpstreamModel(ProviderDescriptor provider, string? asked)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (asked is not null && provider.DefaultModel is not null
            && (provider.Model == asked || (!provider.Models.IsDefaultOrEmpty && provider.Models.Contains(asked))))
        {
            return asked;
        }
        return provider.DefaultModel;
    }
}
