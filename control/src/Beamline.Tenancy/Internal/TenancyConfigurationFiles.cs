using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Beamline.Tenancy.Internal;

/// <summary>
/// Finds the JSON configuration file that holds tenancy definitions. Definitions are read as JSON
/// from the file itself, not through <see cref="IConfiguration"/>, which turns every value into a
/// string and would change the policies and provider entries it passed on.
/// </summary>
internal static class TenancyConfigurationFiles
{
    private static readonly string[] Markers = ["Beamline:Tenancy:tenants:0:id", "Beamline:Tenancy:providers:0:id"];

    public static string? FindDefinitionsFile(IConfiguration configuration)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return null;
        }
        string? found = null;
        // The last file wins, as it does for configuration values.
        foreach (var provider in root.Providers)
        {
            if (provider is JsonConfigurationProvider json
                && Array.Exists(Markers, marker => provider.TryGet(marker, out _))
                && json.Source.FileProvider?.GetFileInfo(json.Source.Path ?? "").PhysicalPath is { } path)
            {
                found = path;
            }
        }
        return found;
    }
}
