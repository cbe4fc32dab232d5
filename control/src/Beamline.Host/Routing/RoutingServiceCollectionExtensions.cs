using Beamline.Host.Routing;
using Beamline.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CP1 decide and execute.</summary>
public static class RoutingServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="RoutingService"/> (router settings from <c>Beamline:Routing</c>), the decide
    /// and execute pipelines, and CP1 decide over NATS (a hosted service, active when <c>Beamline:Nats:Url</c>
    /// is set). Needs tenancy (<c>AddBeamlineTenancy</c>) and dispatch options (<c>AddBeamlineDispatch</c>).
    /// Replaces tenancy's <see cref="Beamline.Tenancy.IPolicyValidator"/> with the policy compiler, so
    /// that the admin API and the configuration file accept exactly the policies routing can use.
    /// </summary>
    public static IServiceCollection AddBeamlineDecide(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<RouterOptions>().Bind(configuration.GetSection(RouterOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RouterOptions>, RouterOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.Replace(ServiceDescriptor.Singleton<Beamline.Tenancy.IPolicyValidator, PolicyCompilerValidator>());
        services.TryAddSingleton<Beamline.Tenancy.IProviderValidator, ProviderEntryValidator>();
        services.TryAddSingleton<Beamline.Routing.Bandits.IBanditSelector>(_ => new Beamline.Routing.Bandits.UniformBanditSelector());
        services.TryAddSingleton<RoutingService>();
        services.AddOptions<AssignmentOptions>().Bind(configuration.GetSection(AssignmentOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AssignmentOptions>, AssignmentOptionsValidator>());
        services.TryAddSingleton<AssignmentTracker>();
        services.TryAddSingleton<AssignmentPublisher>();
        services.AddOptions<DecisionStoreOptions>().Bind(configuration.GetSection(DecisionStoreOptions.SectionName));
        services.TryAddSingleton<DecisionStore>();
        services.AddBeamlinePipeline(configuration);
        services.TryAddSingleton<DecideProcessor>();
        services.TryAddSingleton<ExecuteProcessor>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NatsDecideService>());
        // The embedded runtime resolves the credentials provider blocks name (no key in a payload).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Beamline.Dispatch.InProcess.IExecutorCredentialSource, ProviderCredentials>());
        return services;
    }
}
