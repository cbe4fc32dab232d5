using Beamline.Host.Replay;
using Beamline.Pipeline.Costs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers request replay.</summary>
internal static class ReplayServiceCollectionExtensions
{
    /// <summary>
    /// Binds <c>Beamline:Replay</c> (validated at start) and, when a tenant opted in, the capture
    /// (an <see cref="IRequestAccounting"/> the pipeline tells of every finished request, and the
    /// hosted writer behind it), <c>replay.db</c> in <paramref name="dataDirectory"/> and the runner
    /// the admin endpoint uses. With nobody opted in nothing is kept and no database is opened.
    /// </summary>
    public static IServiceCollection AddBeamlineReplay(this IServiceCollection services, IConfiguration configuration, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(ReplayOptions.SectionName);
        services.AddOptions<ReplayOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplayOptions>, ReplayOptionsValidator>());
        if (section.Get<ReplayOptions>() is not { IsEnabled: true })
        {
            return services;
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new ReplayStore(Path.Combine(dataDirectory, ReplayStore.FileName)));
        services.TryAddSingleton<ReplayCapture>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRequestAccounting, ReplayCapture>(provider => provider.GetRequiredService<ReplayCapture>()));
        services.AddHostedService(provider => provider.GetRequiredService<ReplayCapture>());
        services.TryAddSingleton<ReplayRunner>();
        return services;
    }
}
