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
        services.TryAddSingleton<RoutingService>();
        services.AddOptions<AssignmentOptions>().Bind(configuration.GetSection(AssignmentOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AssignmentOptions>, AssignmentOptionsValidator>());
        services.TryAddSingleton<AssignmentTracker>();
        services.TryAddSingleton<AssignmentPublisher>();
        services.AddOptions<DecisionStoreOptions>().Bind(configuration.GetSection(DecisionStoreOptions.SectionName));
        services.TryAddSingleton<DecisionStore>();
        // The pipeline and its ports: routing, admission over the quota gate, provider clients, extensions.
        services.AddOptions<Beamline.Pipeline.PipelineOptions>().Bind(configuration.GetSection(Beamline.Pipeline.PipelineOptions.SectionName));
        services.TryAddSingleton<Beamline.Pipeline.Routing.IPolicyRouter>(static sp => sp.GetRequiredService<RoutingService>());
        services.TryAddSingleton<Beamline.Pipeline.Admission.IAdmission, QuotaAdmission>();
        services.AddBeamlineProviderClients();
        services.TryAddSingleton<Beamline.Pipeline.Activity.IActivitySink>(Beamline.Pipeline.Activity.NullActivitySink.Instance);
        services.TryAddSingleton<Beamline.Pipeline.Extensions.IExtensionRegistry, Beamline.Pipeline.Extensions.EmptyExtensionRegistry>();
        foreach (var builtIn in Beamline.Extensions.BuiltIn.BuiltInExtensions.All)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(Beamline.Pipeline.Extensions.IBuiltInExtension), builtIn));
        }
        // Registry entries with a subject are NATS services: called when NATS is configured, and
        // failing as unavailable (their mode or on_fail applies) when it is not.
        services.TryAddSingleton<Beamline.Pipeline.Extensions.ExtensionRunner>(static sp => new Beamline.Pipeline.Extensions.ExtensionRunner(
            sp.GetRequiredService<Beamline.Pipeline.Extensions.IExtensionRegistry>(),
            sp.GetServices<Beamline.Pipeline.Extensions.IBuiltInExtension>(),
            sp.GetService<NATS.Client.Core.INatsConnection>() is { } connection
                ? new Beamline.Extensions.Nats.NatsExtensionTransport(connection, sp.GetService<Beamline.Nats.NatsConnectionMonitor>())
                : null,
            sp.GetRequiredService<Beamline.Pipeline.Activity.IActivitySink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Beamline.Pipeline.Extensions.ExtensionRunner>>(),
            metrics: sp.GetService<Beamline.Pipeline.Telemetry.PipelineMetrics>()));
        // Post extensions over a provider's stream (server-sent events) see its text, not the events.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Beamline.Pipeline.Providers.IStreamTextCodec, Beamline.Gateway.Translation.Streams.SseTextCodec>());
        services.TryAddSingleton<Beamline.Pipeline.RequestPipeline>();
        services.TryAddSingleton<DecideProcessor>();
        services.TryAddSingleton<ExecuteProcessor>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NatsDecideService>());
        // The embedded runtime resolves the credentials provider blocks name (no key in a payload).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Beamline.Dispatch.InProcess.IExecutorCredentialSource, ProviderCredentials>());
        return services;
    }
}
