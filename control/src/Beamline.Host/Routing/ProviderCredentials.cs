using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Beamline.Dispatch.InProcess;
using Beamline.Providers;
using Beamline.Routing.Catalog;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// The credentials and provider destinations of the embedded runtime. Destinations: one per HTTP
/// provider entry (<see cref="ProvidersFrom"/>), the host of its base URL, which its blocks
/// (<c>provider_ref</c>) may reach without the tenants' allow-lists listing it. Credentials:
/// one per HTTP provider entry with <c>api_key_env</c>,
/// named as its blocks name it (<see cref="ProviderDescriptor.CredentialName"/>), reading that
/// variable, sent as <c>Authorization: Bearer</c> (<c>x-api-key</c> for Anthropic) and only to the
/// host of the entry's <c>base_url</c>. Read once, when the runtime is created: entries added or
/// changed later through the admin API get their credentials and destinations at the next start
/// (or from the executor configuration file, whose entries win). Workers over NATS resolve both
/// from their own executor configuration instead.
/// </summary>
internal sealed class ProviderCredentials(ITenantDirectory directory) : IExecutorCredentialSource
{
    /// <inheritdoc />
    public IReadOnlyList<ExecutorCredential> GetCredentials() => From(directory.Snapshot.Providers);

    /// <inheritdoc />
    public IReadOnlyList<ExecutorProvider> GetProviders() => ProvidersFrom(directory.Snapshot.Providers);

    /// <summary>The credentials of <paramref name="providers"/>; entries that do not parse are left out (routing logs them).</summary>
    internal static IReadOnlyList<ExecutorCredential> From(ImmutableArray<Beamline.Tenancy.ProviderEntry> providers)
    {
        var credentials = new List<ExecutorCredential>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var provider in Parse(providers))
        {
            if (For(provider) is { } credential && names.Add(credential.Name))
            {
                credentials.Add(credential);
            }
        }
        return credentials;
    }

    /// <summary>The destinations of the HTTP entries of <paramref name="providers"/>; entries that do not parse are left out.</summary>
    internal static IReadOnlyList<ExecutorProvider> ProvidersFrom(ImmutableArray<Beamline.Tenancy.ProviderEntry> providers)
    {
        var destinations = new List<ExecutorProvider>();
        foreach (var provider in Parse(providers))
        {
            if (DestinationOf(provider) is { } destination)
            {
                destinations.Add(destination);
            }
        }
        return destinations;
    }

    /// <summary>
    /// Where <paramref name="provider"/>'s blocks may go, or null when it is no HTTP provider or has
    /// no base URL: the base URL's host[:port]. A host named <c>localhost</c> (or <c>*.localhost</c>)
    /// also gets the loopback addresses at its port, as an allow-list entry must name a loopback
    /// address for a connection to it; any other name that resolves to a private or loopback
    /// address needs <c>allow_private</c>/<c>allow_loopback</c> in the executor configuration's
    /// entry for the provider (or section).
    /// </summary>
    internal static ExecutorProvider? DestinationOf(ProviderDescriptor provider)
    {
        if (!ProviderBlocks.IsHttp(provider) || ProviderBlocks.BaseUrl(provider) is not { } baseUrl
            || !Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return null;
        }
        var host = uri.Host.TrimEnd('.');
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            var port = uri.Port.ToString(CultureInfo.InvariantCulture);
            return new ExecutorProvider { Id = provider.Id, Hosts = [uri.Authority, "127.0.0.1:" + port, "[::1]:" + port] };
        }
        return new ExecutorProvider { Id = provider.Id, Hosts = [uri.Authority] };
    }

    private static IEnumerable<ProviderDescriptor> Parse(ImmutableArray<Beamline.Tenancy.ProviderEntry> providers)
    {
        foreach (var entry in providers)
        {
            ProviderDescriptor provider;
            try
            {
                provider = ProviderJson.Parse(entry.Id, entry.Json);
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                continue;
            }
            yield return provider;
        }
    }

    /// <summary>The credential <paramref name="provider"/>'s blocks name, or null when it has none to generate.</summary>
    internal static ExecutorCredential? For(ProviderDescriptor provider)
    {
        if (!ProviderBlocks.IsHttp(provider) || provider.ApiKeyVariable is not { Length: > 0 } variable || provider.CredentialName is not { } name)
        {
            return null;
        }
        var anthropic = provider.Kind == ProviderKind.Anthropic;
        var baseUrl = ProviderBlocks.BaseUrl(provider);
        return new ExecutorCredential
        {
            Name = name,
            Header = anthropic ? AnthropicMessages.ApiKeyHeader : "Authorization",
            Prefix = anthropic ? "" : "Bearer ",
            ValueEnvironmentVariable = variable,
            // The key goes only where the entry says the provider is: a tenant that can run its
            // own http.request blocks cannot send it to a host of its choosing.
            Hosts = baseUrl is not null && Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) ? [uri.Authority] : [],
        };
    }
}
