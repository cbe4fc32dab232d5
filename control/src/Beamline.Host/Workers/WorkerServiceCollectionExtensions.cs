using Beamline.Host.Workers;
using Beamline.Nats;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the worker directory.</summary>
internal static class WorkerServiceCollectionExtensions
{
    /// <summary>
    /// With NATS (<c>Beamline:Nats:Url</c>): the <see cref="WorkerDirectory"/> fed by the workers'
    /// heartbeats, and its gauges. The embedded default runs blocks in-process: no directory.
    /// </summary>
    public static IServiceCollection AddBeamlineWorkers(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"]))
        {
            return services;
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WorkerDirectory>();
        services.TryAddSingleton<WorkerGauges>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WorkerHeartbeatListener>());
        return services;
    }
}
