using Beamline.Audit;
using Beamline.Host.Audit;
using Beamline.Host.State;
using Beamline.Nats;
using Beamline.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the audit chain.</summary>
public static class AuditServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="AuditLog"/> (settings from <c>Beamline:Audit</c>; its files in
    /// <see cref="AuditOptions.DataDirectory"/>, by default the host's data directory) as itself and
    /// as <see cref="IAuditLog"/>, opened at host start and flushed at stop (closed, draining its
    /// queue, when the host is disposed); and, when <c>Beamline:Nats:Url</c> is set, the publisher of
    /// its head on <see cref="AuditOptions.HeadSubject"/>. Map the endpoints with
    /// <see cref="AuditEndpoints.MapAuditEndpoints"/> and record admin changes with
    /// <see cref="AdminAuditMiddleware.UseAdminAudit"/>.
    /// </summary>
    public static IServiceCollection AddBeamlineAudit(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AuditOptions>().Bind(configuration.GetSection(AuditOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AuditOptions>>().Value;
            var directory = options.DataDirectory
                ?? sp.GetService<StateDirectories>()?.DataDirectory
                ?? sp.GetRequiredService<IOptions<TenancyOptions>>().Value.DataDirectory;
            return AuditLog.Open(new AuditOptions
            {
                DataDirectory = directory,
                QueueCapacity = options.QueueCapacity,
                MaxBatch = options.MaxBatch,
                BatchWindow = options.BatchWindow,
            }, sp.GetService<IAuditHeadPublisher>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AuditLog>>());
        });
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<AuditLog>());
        // The same condition as AddBeamlineNats, which registers the INatsConnection the publisher uses.
        if (!string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"])
            && configuration[$"{AuditOptions.SectionName}:HeadSubject"] is not "")
        {
            services.TryAddSingleton<NatsAuditHeadPublisher>();
            services.TryAddSingleton<IAuditHeadPublisher>(sp => sp.GetRequiredService<NatsAuditHeadPublisher>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NatsAuditHeadPublisher>(sp => sp.GetRequiredService<NatsAuditHeadPublisher>()));
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AuditLifetime>());
        // Every decision and execution the pipeline finishes (admin changes: UseAdminAudit).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Beamline.Pipeline.Costs.IRequestAccounting, Beamline.Host.Audit.AuditAccounting>());
        return services;
    }
}
