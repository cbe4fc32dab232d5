using Beamline.Nats;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the control plane's one NATS connection.</summary>
public static class NatsServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="INatsConnection"/> (NATS.Net) configured from <c>Beamline:Nats</c>, and its
    /// <see cref="NatsConnectionMonitor"/>, when <c>Beamline:Nats:Url</c> is set; nothing otherwise.
    /// <paramref name="retryInitialConnect"/>: true for a server (start degraded, connect when NATS
    /// comes), false for a one-shot command (fail at once).
    /// </summary>
    public static IServiceCollection AddBeamlineNats(this IServiceCollection services, IConfiguration configuration, bool retryInitialConnect)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<NatsClientOptions>().Bind(configuration.GetSection(NatsClientOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatsClientOptions>, NatsClientOptionsValidator>());
        if (string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"]))
        {
            return services;
        }
        services.TryAddSingleton<INatsConnection>(sp => new NatsConnection(NatsConnectionFactory.CreateOpts(
            sp.GetRequiredService<IOptions<NatsClientOptions>>().Value, sp.GetRequiredService<ILoggerFactory>(), retryInitialConnect)));
        services.TryAddSingleton<NatsConnectionMonitor>();
        return services;
    }
}
