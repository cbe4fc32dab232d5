using System.Collections.Immutable;
using System.Text.Json;
using Beamline.Dispatch.InProcess;
using Beamline.Providers;
using Beamline.Routing.Catalog;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// The credentials of the embedded runtime: one per HTTP provider entry with <c>api_key_env</c>,
/// named as its blocks name it (<see cref="ProviderDescriptor.CredentialName"/>), reading that
/// variable, sent as <c>Authorization: Bearer</c> (<c>x-api-key</c> for Anthropic) and only to the
/// host of the entry's <c>base_url</c>. Read once, when the runtime is created: entries added or
/// changed later through the admin API get their credentials at the next start (or from the
/// executor configuration file, whose entries win). Workers over NATS resolve credentials from
/// their own executor configuration instead.
/// </summary>
internal sealed class ProviderCredentials(ITenantDirectory directory) : IExecutorCredentialSource
{
    /// <inheritdoc />
    public IReadOnlyList<ExecutorCredential> GetCredentials() => From(directory.Snapshot.Providers);

    /// <summary>The credentials of <paramref name="providers"/>; entries that do not parse are left out (routing logs them).</summary>
    internal static IReadOnlyList<ExecutorCredential> From(ImmutableArray<Beamline.Tenancy.ProviderEntry> providers)
    {
        var credentials = new List<ExecutorCredential>();
        var names = new HashSet<string>(StringComparer.Ordinal);
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
            if (For(provider) is { } credential && names.Add(credential.Name))
            {
                credentials.Add(credential);
            }
        }
        return credentials;
    }

    /// <summary>The credential <paramref name="provider"/>'s blocks name, or null when it has none to generate.</summary>
    internal static ExecutorCredential? For(ProviderDescriptor provider)
    {
        if (!ProviderBlocks.IsHttp(provider) || provider.ApiKeyVariable is not { Length: > 0 } variable || provider.CredentialName is not { } name)
        {
            return null;
        }
        var anthropic = provider.Kind == ProviderKind.Anthropic;
        var baseUrl = provider.Endpoint ?? (anthropic ? AnthropicMessages.BaseUrl : provider.Kind == ProviderKind.OpenAI ? ProviderBlocks.OpenAIBaseUrl : null);
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
