using System.Text.Json;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// Accepts a provider entry only when routing can read it: the same <see cref="ProviderJson"/>
/// that <see cref="RoutingService"/> runs at every rebuild (kinds, prices, timeouts). Without it
/// the admin API would store an entry (say, a negative price) that routing then leaves out.
/// </summary>
internal sealed class ProviderEntryValidator : IProviderValidator
{
    /// <inheritdoc />
    public string? Validate(string providerId, string providerJson)
    {
        try
        {
            ProviderJson.Parse(providerId, providerJson);
            return null;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return $"the provider entry is not valid: {e.Message}";
        }
    }
}
