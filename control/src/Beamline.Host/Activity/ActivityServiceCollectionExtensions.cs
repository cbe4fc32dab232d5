using Beamline.Host.Activity;
using Beamline.Nats;
using Beamline.Pipeline.Activity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the activity stream.</summary>
public static class ActivityServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="ActivityBus"/> (settings from <c>Beamline:Activity</c>) as itself and as
    /// the pipeline's <see cref="IActivitySink"/>; and, when <c>Beamline:Nats:Url</c> is set, the
    /// hosted service that publishes every event on <c>beamline.activity.v1.&lt;tenant_id&gt;</c>
    /// (unless <c>Beamline:Activity:PublishToNats</c> is false). Map the SSE stream with
    /// <see cref="ActivityEndpoints.MapActivityEndpoints"/>.
    /// </summary>
    public static IServiceCollection AddBeamlineActivity(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ActivityOptions>().Bind(configuration.GetSection(ActivityOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ActivityOptions>, ActivityOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ActivityBus(sp.GetRequiredService<IOptions<ActivityOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IActivitySink>(sp => sp.GetRequiredService<ActivityBus>());
        // The same condition as AddBeamlineNats, which registers the INatsConnection the publisher uses.
        if (!string.IsNullOrEmpty(configuration[$"{NatsClientOptions.SectionName}:Url"]))
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ActivityNatsPublisher>());
        }
        return services;
    }
}
