using Beamline.Nats;
using Beamline.Routing.Shared;
using Beamline.SharedState;
using Beamline.SharedState.Budgets;
using Beamline.SharedState.Configuration;
using Beamline.SharedState.Meters;
using Beamline.SharedState.Quotas;
using Beamline.SharedState.Routing;
using Beamline.Tenancy.Budgets;
using Beamline.Tenancy.Quotas;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the state shared by several control planes on one NATS (JetStream KV).</summary>
public static class SharedStateServiceCollectionExtensions
{
    /// <summary>
    /// When <c>Beamline:Nats:Url</c> is set (and <c>Beamline:SharedState:Enabled</c> is not false):
    /// budget and quota counters (<see cref="IBudgetCounters"/>, <see cref="IQuotaCounters"/>),
    /// breaker states and sticky sessions (<see cref="IRoutingStateShare"/>), tenancy's
    /// configuration and the extension registry's admin entries live in JetStream KV, shared by every control plane on that NATS. Otherwise
    /// nothing is registered and each control plane keeps its own state in process. Needs the NATS
    /// connection (<c>AddBeamlineNats</c>) and tenancy (<c>AddBeamlineTenancy</c>); call it before
    /// or after them.
    /// </summary>
    public static IServiceCollection AddBeamlineSharedState(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SharedStateOptions.SectionName);
        if (string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"]) || !section.GetValue(nameof(SharedStateOptions.Enabled), true))
        {
            return services;
        }
        services.AddOptions<SharedStateOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SharedStateOptions>, SharedStateOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SharedStateConnection>();
        services.TryAddSingleton<MeterStore>();
        services.TryAddSingleton<MeterSet>();
        services.AddHostedService(sp => sp.GetRequiredService<MeterSet>());
        // A NATS server without JetStream: each control plane keeps its own state (with a warning).
        services.RemoveAll<IBudgetCounters>();
        services.AddSingleton<IBudgetCounters>(sp => sp.GetRequiredService<SharedStateConnection>().IsShared
            ? ActivatorUtilities.CreateInstance<KvBudgetCounters>(sp)
            : new InProcessBudgetCounters());
        services.RemoveAll<IQuotaCounters>();
        services.AddSingleton<IQuotaCounters>(sp => sp.GetRequiredService<SharedStateConnection>().IsShared
            ? ActivatorUtilities.CreateInstance<KvQuotaCounters>(sp)
            : InProcessQuotaCounters.Instance);
        services.TryAddSingleton<KvRoutingStateShare>();
        services.TryAddSingleton<IRoutingStateShare>(sp => sp.GetRequiredService<SharedStateConnection>().IsShared
            ? sp.GetRequiredService<KvRoutingStateShare>()
            : null!);
        services.AddHostedService(sp => sp.GetRequiredService<KvRoutingStateShare>());
        services.TryAddSingleton<KvTenancyReplica>();
        services.AddHostedService(sp => sp.GetRequiredService<KvTenancyReplica>());
        services.AddHostedService<KvExtensionReplica>();
        services.AddHostedService<SharedStateStartup>();
        return services;
    }
}
