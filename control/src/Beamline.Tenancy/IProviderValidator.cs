namespace Beamline.Tenancy;

/// <summary>
/// Checks a provider entry before the admin API stores it. Routing registers its own, which
/// parses the entry as routing will (kind, prices, timeouts …): an entry it would leave out is
/// refused with the reason, instead of being stored and then missing from routing.
/// </summary>
public interface IProviderValidator
{
    /// <summary>Null when the entry is acceptable, otherwise why not.</summary>
    /// <param name="providerId">The provider's id.</param>
    /// <param name="providerJson">The entry's JSON object, as it will be stored.</param>
    string? Validate(string providerId, string providerJson);
}
