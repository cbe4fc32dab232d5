using Beamline.Host.Grpc;
using Beamline.Host.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CP2 (docs/cp2.md): its gRPC service and its NATS subjects, over the same pipeline as CP1.</summary>
public static class Cp2ServiceCollectionExtensions
{
    /// <summary>Adds the CP2 faces; the gRPC service is mapped by <see cref="MapCp2"/>.</summary>
    public static IServiceCollection AddCp2(this IServiceCollection services, Beamline.Host.HostOptions hostOptions)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(hostOptions);
        services.TryAddSingleton<Cp2Processor>();
        // Stateless: one instance for every call, not one activated per call.
        services.TryAddSingleton<RouterGrpcService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NatsCp2Service>());
        // An execute's payload travels on to the provider: the block limit, as POST /v1/execute.
        services.AddGrpc().AddServiceOptions<RouterGrpcService>(options => options.MaxReceiveMessageSize = hostOptions.MaxRequestBytes);
        return services;
    }

    /// <summary>Maps <c>beamline.router.v2.Router</c>.</summary>
    public static IEndpointRouteBuilder MapCp2(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<RouterGrpcService>();
        return endpoints;
    }
}
