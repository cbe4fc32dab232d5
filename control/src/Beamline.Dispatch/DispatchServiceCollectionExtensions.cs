using Beamline.Dispatch;
using Beamline.Dispatch.InProcess;
using Beamline.Dispatch.Nats;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers block dispatch.</summary>
public static class DispatchServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="IBlockDispatcher"/>: over NATS when <c>Beamline:Nats:Url</c> is set,
    /// otherwise in-process (the embedded default).
    /// </summary>
    /// <paramref name="retryInitialConnect"/>: see <c>AddBeamlineNats</c>.
    public static IServiceCollection AddBeamlineDispatch(this IServiceCollection services, IConfiguration configuration,
        bool retryInitialConnect = true)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DispatchOptions>()
            .Bind(configuration.GetSection(DispatchOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DispatchOptions>, DispatchOptionsValidator>());
        services.AddBeamlineNats(configuration, retryInitialConnect);
        services.TryAddSingleton<IBlockDispatcher>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DispatchOptions>>();
            return string.IsNullOrEmpty(options.Value.Nats.Url)
                ? ActivatorUtilities.CreateInstance<InProcessBlockDispatcher>(sp)
                : ActivatorUtilities.CreateInstance<NatsBlockDispatcher>(sp);
        });
        return services;
    }
}
