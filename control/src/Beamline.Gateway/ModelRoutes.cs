using Beamline.Pipeline.Routing;

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
}
