using System.Collections.Immutable;

namespace Beamline.Dispatch.InProcess;

/// <summary>
/// A provider the operator configured, as the in-process <c>http.request</c> executor sees it: one
/// entry of the executor configuration's <c>"http"."providers"</c> (docs/executors.md,
/// "Provider destinations"). A block naming it (<c>"provider_ref"</c>) may reach its hosts
/// without the tenant's allow-list listing them; clients' own blocks cannot name one.
/// </summary>
public sealed record ExecutorProvider
{
    /// <summary>The name blocks give as <c>provider_ref</c>: the provider entry's id.</summary>
    public required string Id { get; init; }

    /// <summary>The hosts (allow-list entries: <c>host</c>, <c>host:port</c>, an address) its blocks may reach.</summary>
    public ImmutableArray<string> Hosts { get; init; } = [];
}
