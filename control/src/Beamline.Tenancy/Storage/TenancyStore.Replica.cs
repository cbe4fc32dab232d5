using System.Data;
using Microsoft.Data.Sqlite;

namespace Beamline.Tenancy.Storage;

internal sealed partial class TenancyStore
{
    /// <summary>Makes the database hold exactly <paramref name="rows"/> (a replica of the shared configuration), in one transaction.</summary>
    public async Task ReplaceAllAsync(TenancyRows rows, long now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
        // Children first is not needed: deleting tenants cascades to teams, keys and policies.
        await ExecuteAsync(connection, transaction, "DELETE FROM tenants; DELETE FROM providers;", cancellationToken).ConfigureAwait(false);
        foreach (var row in rows.Tenants)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO tenants (id, name, default_policy_id, limits, source, created_at, updated_at)
                VALUES ($id, $name, $policy, $limits, $source, $created, $updated);
                """, cancellationToken, ("$id", row.Id), ("$name", row.Name), ("$policy", row.DefaultPolicyId), ("$limits", row.LimitsJson),
                ("$source", row.Source), ("$created", row.CreatedAt), ("$updated", row.UpdatedAt)).ConfigureAwait(false);
        }
        foreach (var row in rows.Teams)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO teams (tenant_id, id, name, limits, source, created_at, updated_at)
                VALUES ($tenant, $id, $name, $limits, $source, $created, $updated);
                """, cancellationToken, ("$tenant", row.TenantId), ("$id", row.Id), ("$name", row.Name), ("$limits", row.LimitsJson),
                ("$source", row.Source), ("$created", row.CreatedAt), ("$updated", row.UpdatedAt)).ConfigureAwait(false);
        }
        foreach (var row in rows.Keys)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO api_keys (id, tenant_id, team_id, name, hash, limits, source, created_at, expires_at, revoked_at)
                VALUES ($id, $tenant, $team, $name, $hash, $limits, $source, $created, $expires, $revoked);
                """, cancellationToken, ("$id", row.Id), ("$tenant", row.TenantId), ("$team", row.TeamId), ("$name", row.Name), ("$hash", row.Hash),
                ("$limits", row.LimitsJson), ("$source", row.Source), ("$created", row.CreatedAt), ("$expires", row.ExpiresAt),
                ("$revoked", row.RevokedAt)).ConfigureAwait(false);
        }
        foreach (var row in rows.Policies)
        {
            await PutPolicyAsync(connection, transaction, row.TenantId, row.Id, row.Json, TenancySources.Admin, now, cancellationToken).ConfigureAwait(false);
        }
        foreach (var row in rows.Providers)
        {
            await PutProviderAsync(connection, transaction, new ProviderEntry(row.Id, row.Json), TenancySources.Admin, now, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
