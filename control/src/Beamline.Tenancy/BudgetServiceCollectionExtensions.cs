using Beamline.Tenancy.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers budget enforcement.</summary>
public static class BudgetServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="BudgetGate"/> (settings from <c>Beamline:Budgets</c>) over tenancy's
    /// <see cref="Beamline.Tenancy.ITenantDirectory"/> (register it with <c>AddBeamlineTenancy</c>).
    /// Counters are kept in this process (<see cref="InProcessBudgetCounters"/>) and threshold
    /// crossings dropped (<see cref="NullBudgetAlertSink"/>) unless another <see cref="IBudgetCounters"/>
    /// or <see cref="IBudgetAlertSink"/> is registered, before or after this call.
    /// </summary>
    public static IServiceCollection AddBeamlineBudgets(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<BudgetOptions>().Bind(configuration.GetSection(BudgetOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BudgetOptions>, BudgetOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IBudgetCounters, InProcessBudgetCounters>();
        services.TryAddSingleton<IBudgetAlertSink>(NullBudgetAlertSink.Instance);
        services.TryAddSingleton<BudgetGate>();
        return services;
    }
}
