using Beamline.Host.Dashboard;
using Beamline.Tenancy.Admin;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the live dashboard (<c>/ui</c>).</summary>
public static class DashboardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the dashboard's sessions (which also authorize admin reads, <see cref="IAdminSessions"/>),
    /// its embedded assets and its live summary; settings from <c>Beamline:Dashboard</c>.
    /// </summary>
    public static IServiceCollection AddBeamlineDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DashboardOptions>().Bind(configuration.GetSection(DashboardOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DashboardSessions>();
        services.TryAddSingleton<IAdminSessions>(sp => sp.GetRequiredService<DashboardSessions>());
        services.TryAddSingleton<DashboardAssets>();
        services.TryAddSingleton<DashboardSummary>();
        return services;
    }
}
