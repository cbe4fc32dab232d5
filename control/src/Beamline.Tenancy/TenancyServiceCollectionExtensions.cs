using Beamline.Tenancy;
using Beamline.Tenancy.Internal;
using Beamline.Tenancy.Quotas;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers tenancy.</summary>
public static class TenancyServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ITenantDirectory"/> (and <see cref="TenantDirectory"/> for the admin API),
    /// bound to <c>Beamline:Tenancy</c>, opened and seeded from the definitions file at host start,
    /// and the <see cref="QuotaGate"/> that enforces its request limits.
    /// The default <see cref="IPolicyValidator"/> only requires a JSON object; register another
    /// before or after this call to replace it.
    /// </summary>
    public static IServiceCollection AddBeamlineTenancy(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TenancyOptions>()
            .Bind(configuration.GetSection(TenancyOptions.SectionName))
            .PostConfigure(options => options.File ??= TenancyConfigurationFiles.FindDefinitionsFile(configuration))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenancyOptions>, TenancyOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPolicyValidator, JsonObjectPolicyValidator>();
        services.TryAddSingleton<TenantDirectory>();
        services.TryAddSingleton<ITenantDirectory>(sp => sp.GetRequiredService<TenantDirectory>());
        services.TryAddSingleton<QuotaGate>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TenancyStartup>());
        return services;
    }
}
