using Beamline.Extensions.BuiltIn;
using Beamline.Extensions.Nats;
using Beamline.Gateway.Translation.Streams;
using Beamline.Host.Routing;
using Beamline.Nats;
using Beamline.Pipeline;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Providers;
using Beamline.Pipeline.Routing;
using Beamline.Pipeline.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the request pipeline and its ports as the host serves them.</summary>
public static class PipelineServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="RequestPipeline"/> (settings from <c>Beamline:Pipeline</c>) over the host's
    /// routing service, admission over tenancy's quota gate, budgets over its budget gate
    /// (<c>AddBeamlineBudgets</c>), the provider clients, the built-in
    /// extensions and the extension runner (NATS extensions when a NATS connection is registered).
    /// An activity sink, an extension registry and metrics registered before are used; otherwise
    /// a sink that drops everything and a registry without entries.
    /// </summary>
    public static IServiceCollection AddBeamlinePipeline(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PipelineOptions>().Bind(configuration.GetSection(PipelineOptions.SectionName));
        services.TryAddSingleton<IPolicyRouter>(static sp => sp.GetRequiredService<RoutingService>());
        services.TryAddSingleton<IAdmission, QuotaAdmission>();
        services.TryAddSingleton<IBudgets, BudgetAdmission>();
        // Prices, the tokenizer and the usage of answers: every execute is priced, metered and reserved.
        services.AddBeamlineCostMeter();
        services.AddBeamlineProviderClients();
        services.TryAddSingleton<IActivitySink>(NullActivitySink.Instance);
        services.TryAddSingleton<IExtensionRegistry, EmptyExtensionRegistry>();
        foreach (var builtIn in BuiltInExtensions.All)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IBuiltInExtension), builtIn));
        }
        // Registry entries with a subject are NATS services: called when NATS is configured, and
        // failing as unavailable (their mode or on_fail applies) when it is not.
        services.TryAddSingleton(static sp => new ExtensionRunner(
            sp.GetRequiredService<IExtensionRegistry>(),
            sp.GetServices<IBuiltInExtension>(),
            sp.GetService<INatsConnection>() is { } connection ? new NatsExtensionTransport(connection, sp.GetService<NatsConnectionMonitor>()) : null,
            sp.GetRequiredService<IActivitySink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ExtensionRunner>>(),
            metrics: sp.GetService<PipelineMetrics>()));
        // Post extensions over a provider's stream (server-sent events) see its text, not the events.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStreamTextCodec, SseTextCodec>());
        services.TryAddSingleton<RequestPipeline>();
        return services;
    }
}
