using System.Collections.Immutable;

namespace Beamline.Dispatch.InProcess;

/// <summary>
/// A credential the in-process <c>http.request</c> executor adds to the requests of blocks that
/// name it (<c>"credential_ref"</c>): one entry of the executor configuration's
/// <c>"http"."credentials"</c> (docs/executors.md, "Credentials"). It names where the secret is,
/// never the secret itself.
/// </summary>
public sealed record ExecutorCredential
{
    /// <summary>The name blocks give as <c>credential_ref</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The header the secret is sent in. Defaults to <c>Authorization</c>.</summary>
    public string Header { get; init; } = "Authorization";

    /// <summary>Text sent before the secret (<c>"Bearer "</c>). Defaults to none.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The environment variable holding the secret, read by the executor at each use.</summary>
    public required string ValueEnvironmentVariable { get; init; }

    /// <summary>The hosts (allow-list entries) the secret may be sent to; empty: any host the tenant may reach.</summary>
    public ImmutableArray<string> Hosts { get; init; } = [];
}

/// <summary>
/// Contributes credentials and provider destinations to the in-process runtime's executor
/// configuration (entries of the configuration file win over contributed ones with the same
/// name). Read once, when the runtime is created.
/// </summary>
public interface IExecutorCredentialSource
{
    /// <summary>The credentials to add (<c>"http"."credentials"</c>).</summary>
    IReadOnlyList<ExecutorCredential> GetCredentials();

    /// <summary>The providers whose hosts their blocks may reach (<c>"http"."providers"</c>). Defaults to none.</summary>
    IReadOnlyList<ExecutorProvider> GetProviders() => [];
}
