namespace Beamline.Tenancy.Replication;

/// <summary>
/// Where tenancy's changes go so that other control planes apply them (JetStream KV in
/// <c>Beamline.SharedState</c>). Tenancy is described as entities: one key per tenant, team, API
/// key, policy and provider (<c>tenant/&lt;id&gt;</c>, <c>team/&lt;tenant&gt;/&lt;id&gt;</c>,
/// <c>key/&lt;id&gt;</c>, <c>policy/&lt;tenant&gt;/&lt;id&gt;</c>, <c>provider/&lt;id&gt;</c>; ids never hold '/')
/// whose value is a JSON document only tenancy reads.
/// </summary>
public interface ITenancyReplica
{
    /// <summary>
    /// Publishes one local change: the entities it wrote (<paramref name="puts"/>) and removed
    /// (<paramref name="deletes"/>). Called under tenancy's write lock, after the change is
    /// committed locally, so that changes leave in the order they were made.
    /// </summary>
    Task PublishAsync(IReadOnlyDictionary<string, string> puts, IReadOnlyCollection<string> deletes, CancellationToken cancellationToken);
}
