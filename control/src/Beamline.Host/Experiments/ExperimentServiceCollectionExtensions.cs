using Beamline.Experiments;
using Beamline.Experiments.Bandits;
using Beamline.Experiments.Routing;
using Beamline.Host.Experiments;
using Beamline.Host.Routing;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Routing;
using Beamline.Routing.Bandits;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers experiments and bandits (docs/experiments.md).</summary>
public static class ExperimentServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="ExperimentRegistry"/> (promotions written to the audit chain), the
    /// routing hook (an <see cref="ExperimentRouter"/> over the host's <see cref="RoutingService"/>
    /// as the pipeline's <see cref="IPolicyRouter"/>), the accounting that feeds experiments and
    /// bandits, their persistence in the data directory (<c>experiments.json</c>), their share with
    /// the other control planes on the NATS (<see cref="KvExperimentShare"/>, when the shared state is registered), and the <see cref="BanditSelector"/> as <see cref="IBanditSelector"/> (settings from
    /// <c>Beamline:Bandits</c>). Map the endpoints with <see cref="ExperimentEndpoints.MapExperimentEndpoints"/>.
    /// </summary>
    public static IServiceCollection AddBeamlineExperiments(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<BanditOptions>().Bind(configuration.GetSection(BanditOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BanditOptions>, BanditOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IExperimentPromotions, AuditPromotions>();
        services.TryAddSingleton(sp => new ExperimentRegistry(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IExperimentPromotions>()));
        services.TryAddSingleton(_ => new ExperimentTracker());
        services.TryAddSingleton(sp => new BanditSelector(sp.GetRequiredService<IOptions<BanditOptions>>().Value, time: sp.GetRequiredService<TimeProvider>()));
        // Replaces the uniform default the routing port ships with, whichever is registered first.
        services.Replace(ServiceDescriptor.Singleton<IBanditSelector>(sp => sp.GetRequiredService<BanditSelector>()));
        services.TryAddSingleton(sp => new ExperimentAccounting(sp.GetRequiredService<ExperimentRegistry>(), sp.GetRequiredService<ExperimentTracker>(),
            sp.GetRequiredService<BanditSelector>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRequestAccounting, ExperimentAccounting>(sp => sp.GetRequiredService<ExperimentAccounting>()));
        // Saved in the data directory across restarts.
        services.TryAddSingleton<ExperimentPersistence>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, ExperimentPersistence>(sp => sp.GetRequiredService<ExperimentPersistence>()));
        // Shared by every control plane on the NATS when the shared state is on (AddBeamlineSharedState first): after the restore
        // above. Feedback on a request another control plane served reaches it there.
        if (services.Any(static d => d.ServiceType == typeof(Beamline.SharedState.SharedStateConnection)))
        {
            services.AddHostedService<KvExperimentShare>();
            services.TryAddSingleton<NatsFeedbackRelay>();
            services.AddHostedService(sp => sp.GetRequiredService<NatsFeedbackRelay>());
        }
        // The route stage sees experiments through a decorator; whichever of this and AddBeamlinePipeline runs first.
        services.Replace(ServiceDescriptor.Singleton<IPolicyRouter>(static sp => new ExperimentRouter(
            sp.GetRequiredService<RoutingService>(), sp.GetRequiredService<ExperimentRegistry>(), sp.GetRequiredService<ExperimentTracker>())));
        return services;
    }
}
