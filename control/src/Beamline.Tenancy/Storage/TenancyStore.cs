using System.Data;
using Beamline.Tenancy.Configuration;
using Microsoft.Data.Sqlite;

namespace Beamline.Tenancy.Storage;

/// <summary>
/// The SQLite database behind the tenancy snapshot. Every method opens its own short-lived
/// connection: writes come only from the admin API and start-up, and reads only when a new
/// snapshot is built, never per request.
/// </summary>
internal sealed partial class TenancyStore
{
    private const int SqliteConstraint = 19;

    private readonly string _connectionString;

    public TenancyStore(string databasePath)
    {
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            // Connections are rare; unpooled ones leave no file handle behind once closed.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string DatabasePath { get; }

    /// <summary>Creates the database if needed, switches it to WAL and applies pending migrations.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);
        var version = Convert.ToInt32(await ScalarAsync(connection, null, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        if (version > TenancySchema.CurrentVersion)
        {
            throw new InvalidOperationException(
                $"{DatabasePath} has schema version {version}, newer than this build's {TenancySchema.CurrentVersion}: refusing to open it.");
        }
        for (var next = version; next < TenancySchema.CurrentVersion; next++)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, TenancySchema.Migrations[next], cancellationToken).ConfigureAwait(false);
            // PRAGMA takes no parameters; the value is our own integer.
            await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {next + 1};", cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt32(await ScalarAsync(connection, null, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<string> GetJournalModeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return (string)(await ScalarAsync(connection, null, "PRAGMA journal_mode;", cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>The meta value under <paramref name="key"/>, storing <paramref name="value"/> first if there is none.</summary>
    public async Task<string> GetOrAddMetaAsync(string key, string value, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "INSERT INTO meta (key, value) VALUES ($key, $value) ON CONFLICT(key) DO NOTHING;",
            cancellationToken, ("$key", key), ("$value", value)).ConfigureAwait(false);
        return (string)(await ScalarAsync(connection, null, "SELECT value FROM meta WHERE key = $key;", cancellationToken, ("$key", key)).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Upserts what the configuration file defines, in one transaction. The file wins for what it
    /// names; an admin revocation of a file key survives (the file can only add one).
    /// </summary>
    public async Task SeedAsync(TenancyDefinitions definitions, Func<KeyDefinition, byte[]> hash, long now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
        foreach (var tenant in definitions.Tenants)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO tenants (id, name, default_policy_id, limits, source, created_at, updated_at)
                VALUES ($id, $name, $policy, $limits, 'config', $now, $now)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, default_policy_id = excluded.default_policy_id,
                    limits = excluded.limits, source = 'config', updated_at = excluded.updated_at;
                """, cancellationToken, ("$id", tenant.Id), ("$name", tenant.Name), ("$policy", tenant.DefaultPolicyId),
                ("$limits", Internal.TenancyJson.LimitsToJson(tenant.Limits)), ("$now", now)).ConfigureAwait(false);
            foreach (var team in tenant.Teams)
            {
                await ExecuteAsync(connection, transaction, """
                    INSERT INTO teams (tenant_id, id, name, limits, source, created_at, updated_at)
                    VALUES ($tenant, $id, $name, $limits, 'config', $now, $now)
                    ON CONFLICT(tenant_id, id) DO UPDATE SET name = excluded.name, limits = excluded.limits,
                        source = 'config', updated_at = excluded.updated_at;
                    """, cancellationToken, ("$tenant", tenant.Id), ("$id", team.Id), ("$name", team.Name),
                    ("$limits", Internal.TenancyJson.LimitsToJson(team.Limits)), ("$now", now)).ConfigureAwait(false);
            }
            foreach (var key in tenant.Keys)
            {
                var changed = await ExecuteAsync(connection, transaction, """
                    INSERT INTO api_keys (id, tenant_id, team_id, name, hash, limits, source, created_at, expires_at, revoked_at)
                    VALUES ($id, $tenant, $team, $name, $hash, $limits, 'config', $now, $expires, CASE WHEN $revoked THEN $now END)
                    ON CONFLICT(id) DO UPDATE SET team_id = excluded.team_id, name = excluded.name, hash = excluded.hash,
                        limits = excluded.limits, source = 'config', expires_at = excluded.expires_at,
                        revoked_at = COALESCE(api_keys.revoked_at, excluded.revoked_at)
                    WHERE api_keys.tenant_id = excluded.tenant_id;
                    """, cancellationToken, ("$id", key.Id), ("$tenant", tenant.Id), ("$team", key.TeamId), ("$name", key.Name),
                    ("$hash", hash(key)), ("$limits", Internal.TenancyJson.LimitsToJson(key.Limits)), ("$now", now),
                    ("$expires", key.ExpiresAt?.ToUnixTimeMilliseconds()), ("$revoked", key.Revoked)).ConfigureAwait(false);
                if (changed == 0)
                {
                    throw new InvalidDataException(
                        $"{definitions.Path}: key '{key.Id}' of tenant '{tenant.Id}' already exists in the database for another tenant.");
                }
            }
            foreach (var (policyId, json) in tenant.Policies)
            {
                await PutPolicyAsync(connection, transaction, tenant.Id, policyId, json, TenancySources.Config, now, cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var provider in definitions.Providers)
        {
            await PutProviderAsync(connection, transaction, provider, TenancySources.Config, now, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads everything in one read transaction, so that the snapshot is consistent.</summary>
    public async Task<TenancyRows> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // Deferred: a read transaction, which in WAL mode sees one consistent state without blocking writers.
        await using var transaction = connection.BeginTransaction(deferred: true);
        var tenants = await QueryAsync(connection, transaction,
            "SELECT id, name, default_policy_id, limits, source, created_at, updated_at FROM tenants ORDER BY id;",
            r => new TenantRow(r.GetString(0), NullableString(r, 1), NullableString(r, 2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6)),
            cancellationToken).ConfigureAwait(false);
        var teams = await QueryAsync(connection, transaction,
            "SELECT tenant_id, id, name, limits, source, created_at, updated_at FROM teams ORDER BY tenant_id, id;",
            r => new TeamRow(r.GetString(0), r.GetString(1), NullableString(r, 2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetInt64(6)),
            cancellationToken).ConfigureAwait(false);
        var keys = await QueryAsync(connection, transaction,
            "SELECT id, tenant_id, team_id, name, hash, limits, source, created_at, expires_at, revoked_at FROM api_keys ORDER BY tenant_id, id;",
            r => new KeyRow(r.GetString(0), r.GetString(1), NullableString(r, 2), NullableString(r, 3), (byte[])r.GetValue(4),
                r.GetString(5), r.GetString(6), r.GetInt64(7), NullableInt64(r, 8), NullableInt64(r, 9)),
            cancellationToken).ConfigureAwait(false);
        var policies = await QueryAsync(connection, transaction,
            "SELECT tenant_id, id, json FROM policies ORDER BY tenant_id, id;",
            r => new PolicyRow(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken).ConfigureAwait(false);
        var providers = await QueryAsync(connection, transaction,
            "SELECT id, json FROM providers ORDER BY id;",
            r => new ProviderRow(r.GetString(0), r.GetString(1)), cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new TenancyRows(tenants, teams, keys, policies, providers);
    }

    public async Task InsertTenantAsync(TenantRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await InsertAsync(connection, "tenant", row.Id, """
            INSERT INTO tenants (id, name, default_policy_id, limits, source, created_at, updated_at)
            VALUES ($id, $name, $policy, $limits, $source, $created, $updated);
            """, cancellationToken, ("$id", row.Id), ("$name", row.Name), ("$policy", row.DefaultPolicyId), ("$limits", row.LimitsJson),
            ("$source", row.Source), ("$created", row.CreatedAt), ("$updated", row.UpdatedAt)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateTenantAsync(TenantRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, """
            UPDATE tenants SET name = $name, default_policy_id = $policy, limits = $limits, updated_at = $updated WHERE id = $id;
            """, cancellationToken, ("$id", row.Id), ("$name", row.Name), ("$policy", row.DefaultPolicyId), ("$limits", row.LimitsJson),
            ("$updated", row.UpdatedAt)).ConfigureAwait(false) > 0;
    }

    public Task<bool> DeleteTenantAsync(string id, CancellationToken cancellationToken)
        => DeleteAsync("DELETE FROM tenants WHERE id = $id;", cancellationToken, ("$id", id));

    public async Task InsertTeamAsync(TeamRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await InsertAsync(connection, "team", row.Id, """
            INSERT INTO teams (tenant_id, id, name, limits, source, created_at, updated_at)
            VALUES ($tenant, $id, $name, $limits, $source, $created, $updated);
            """, cancellationToken, ("$tenant", row.TenantId), ("$id", row.Id), ("$name", row.Name), ("$limits", row.LimitsJson),
            ("$source", row.Source), ("$created", row.CreatedAt), ("$updated", row.UpdatedAt)).ConfigureAwait(false);
    }

    public async Task<bool> UpdateTeamAsync(TeamRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, """
            UPDATE teams SET name = $name, limits = $limits, updated_at = $updated WHERE tenant_id = $tenant AND id = $id;
            """, cancellationToken, ("$tenant", row.TenantId), ("$id", row.Id), ("$name", row.Name), ("$limits", row.LimitsJson),
            ("$updated", row.UpdatedAt)).ConfigureAwait(false) > 0;
    }

    public Task<bool> DeleteTeamAsync(string tenantId, string id, CancellationToken cancellationToken)
        => DeleteAsync("DELETE FROM teams WHERE tenant_id = $tenant AND id = $id;", cancellationToken, ("$tenant", tenantId), ("$id", id));

    public async Task InsertKeyAsync(KeyRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await InsertAsync(connection, "key", row.Id, """
            INSERT INTO api_keys (id, tenant_id, team_id, name, hash, limits, source, created_at, expires_at, revoked_at)
            VALUES ($id, $tenant, $team, $name, $hash, $limits, $source, $created, $expires, NULL);
            """, cancellationToken, ("$id", row.Id), ("$tenant", row.TenantId), ("$team", row.TeamId), ("$name", row.Name), ("$hash", row.Hash),
            ("$limits", row.LimitsJson), ("$source", row.Source), ("$created", row.CreatedAt), ("$expires", row.ExpiresAt)).ConfigureAwait(false);
    }

    /// <summary>Revokes a key of the tenant; an already revoked key keeps its first revocation time.</summary>
    public async Task<bool> RevokeKeyAsync(string tenantId, string id, long now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, """
            UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $now) WHERE tenant_id = $tenant AND id = $id;
            """, cancellationToken, ("$tenant", tenantId), ("$id", id), ("$now", now)).ConfigureAwait(false) > 0;
    }

    public async Task PutPolicyAsync(string tenantId, string policyId, string json, long now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await PutPolicyAsync(connection, null, tenantId, policyId, json, TenancySources.Admin, now, cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> DeletePolicyAsync(string tenantId, string policyId, CancellationToken cancellationToken)
        => DeleteAsync("DELETE FROM policies WHERE tenant_id = $tenant AND id = $id;", cancellationToken, ("$tenant", tenantId), ("$id", policyId));

    public async Task PutProviderAsync(ProviderEntry provider, long now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await PutProviderAsync(connection, null, provider, TenancySources.Admin, now, cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> DeleteProviderAsync(string id, CancellationToken cancellationToken)
        => DeleteAsync("DELETE FROM providers WHERE id = $id;", cancellationToken, ("$id", id));

    private static Task<int> PutPolicyAsync(SqliteConnection connection, SqliteTransaction? transaction, string tenantId, string policyId, string json, string source, long now, CancellationToken cancellationToken)
        => ExecuteAsync(connection, transaction, """
            INSERT INTO policies (tenant_id, id, json, source, updated_at) VALUES ($tenant, $id, $json, $source, $now)
            ON CONFLICT(tenant_id, id) DO UPDATE SET json = excluded.json, source = excluded.source, updated_at = excluded.updated_at;
            """, cancellationToken, ("$tenant", tenantId), ("$id", policyId), ("$json", json), ("$source", source), ("$now", now));

    private static Task<int> PutProviderAsync(SqliteConnection connection, SqliteTransaction? transaction, ProviderEntry provider, string source, long now, CancellationToken cancellationToken)
        => ExecuteAsync(connection, transaction, """
            INSERT INTO providers (id, json, source, updated_at) VALUES ($id, $json, $source, $now)
            ON CONFLICT(id) DO UPDATE SET json = excluded.json, source = excluded.source, updated_at = excluded.updated_at;
            """, cancellationToken, ("$id", provider.Id), ("$json", provider.Json), ("$source", source), ("$now", now));

    private async Task<bool> DeleteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, sql, cancellationToken, parameters).ConfigureAwait(false) > 0;
    }

    private static async Task InsertAsync(SqliteConnection connection, string what, string id, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        try
        {
            await ExecuteAsync(connection, null, sql, cancellationToken, parameters).ConfigureAwait(false);
        }
        catch (SqliteException error) when (error.SqliteErrorCode == SqliteConstraint)
        {
            throw TenancyException.Conflict(what, id);
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<T>> QueryAsync<T>(SqliteConnection connection, SqliteTransaction transaction, string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static long? NullableInt64(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);
}
