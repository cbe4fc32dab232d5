namespace Beamline.Tenancy.Storage;

/// <summary>
/// The database schema as numbered migrations; <c>PRAGMA user_version</c> records how many have
/// been applied. Append a migration, never edit one that has shipped.
/// </summary>
internal static class TenancySchema
{
    public static readonly string[] Migrations =
    [
        // 1: tenants → teams → API keys, tenant-owned policies, providers.
        // Times are Unix milliseconds (UTC); limits are JSON objects (docs/tenancy.md).
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE tenants (
            id                TEXT PRIMARY KEY,
            name              TEXT,
            default_policy_id TEXT,
            limits            TEXT NOT NULL DEFAULT '{}',
            source            TEXT NOT NULL,
            created_at        INTEGER NOT NULL,
            updated_at        INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE teams (
            tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id         TEXT NOT NULL,
            name       TEXT,
            limits     TEXT NOT NULL DEFAULT '{}',
            source     TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE TABLE api_keys (
            id         TEXT PRIMARY KEY,
            tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            team_id    TEXT,
            name       TEXT,
            hash       BLOB NOT NULL CHECK (length(hash) = 32),
            limits     TEXT NOT NULL DEFAULT '{}',
            source     TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            revoked_at INTEGER,
            FOREIGN KEY (tenant_id, team_id) REFERENCES teams(tenant_id, id) ON DELETE CASCADE
        ) STRICT;
        CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);
        CREATE TABLE policies (
            tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id         TEXT NOT NULL,
            json       TEXT NOT NULL,
            source     TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, id)
        ) STRICT;
        CREATE TABLE providers (
            id         TEXT PRIMARY KEY,
            json       TEXT NOT NULL,
            source     TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        """,
    ];

    /// <summary>The schema version this build writes.</summary>
    public static int CurrentVersion => Migrations.Length;
}
