using Beamline.Pipeline.Providers;
using Beamline.Providers;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the provider clients the pipeline calls providers through.</summary>
public static class ProviderServiceCollectionExtensions
{
    /// <summary>
    /// Adds the block-backed client (<c>block</c>, <c>openai</c>, <c>openai_compatible</c>,
    /// <c>anthropic</c>; needs an <c>IBlockDispatcher</c>) and the NATS provider client
    /// (<c>nats_provider</c>; uses the NATS connection when one is configured).
    /// </summary>
    public static IServiceCollection AddBeamlineProviderClients(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderClient, BlockProviderClient>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderClient, NatsProviderClient>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderClient, Beamline.Providers.Mock.MockProviderClient>());
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }
}
