using Beamline.Extensions.Registry;
using Beamline.Pipeline.Extensions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the extension registry.</summary>
public static class ExtensionRegistryServiceCollectionExtensions
{
    /// <summary>The folder of the data directory that holds the admin API's entries by default.</summary>
    public const string StoreFolder = "extensions";

    /// <summary>
    /// Adds <see cref="ExtensionRegistry"/> (and <see cref="IExtensionRegistry"/>), bound to
    /// <c>Beamline:Extensions</c> (<see cref="ExtensionsOptions"/>) and loaded at host start. Admin
    /// entries are stored in <c>Beamline:Extensions:StoreDirectory</c>, by default
    /// <c>&lt;<paramref name="dataDirectory"/>&gt;/extensions</c>; with neither, in memory only.
    /// </summary>
    public static IServiceCollection AddBeamlineExtensionRegistry(this IServiceCollection services, IConfiguration configuration, string? dataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ExtensionsOptions>()
            .Bind(configuration.GetSection(ExtensionsOptions.SectionName))
            .PostConfigure(options =>
            {
                if (string.IsNullOrEmpty(options.StoreDirectory) && !string.IsNullOrEmpty(dataDirectory))
                {
                    options.StoreDirectory = Path.Combine(dataDirectory, StoreFolder);
                }
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ExtensionsOptions>, ExtensionsOptionsValidator>());
        services.TryAddSingleton<ExtensionRegistry>();
        services.TryAddSingleton<IExtensionRegistry>(sp => sp.GetRequiredService<ExtensionRegistry>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ExtensionRegistryStartup>());
        return services;
    }
}
