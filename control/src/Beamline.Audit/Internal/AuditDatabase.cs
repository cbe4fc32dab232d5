using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Beamline.Audit.Internal;

/// <summary>
/// The audit table in <c>audit.db</c>: its schema (numbered migrations recorded in
/// <c>PRAGMA user_version</c>, as the tenancy store does), connections and the row mapping.
/// </summary>
internal static class AuditDatabase
{
    /// <summary>The database's file name in the data directory.</summary>
    public const string FileName = "audit.db";

    /// <summary>Every column, in the order <see cref="ReadEntry"/> reads them.</summary>
    public const string Columns = "seq, time, kind, tenant_id, key_id, request_id, provider_id, policy_id, status, "
        + "cost_nanos, input_tokens, output_tokens, request_sha256, response_sha256, action, actor, prev_hash, hash";

    private static readonly string[] Migrations =
    [
        // 1: the chain. seq is the rowid; time is Unix milliseconds (UTC); hashes are lowercase hex.
        """
        CREATE TABLE audit (
            seq             INTEGER PRIMARY KEY,
            time            INTEGER NOT NULL,
            kind            TEXT NOT NULL,
            tenant_id       TEXT,
            key_id          TEXT,
            request_id      TEXT,
            provider_id     TEXT,
            policy_id       TEXT,
            status          TEXT NOT NULL,
            cost_nanos      INTEGER NOT NULL,
            input_tokens    INTEGER NOT NULL,
            output_tokens   INTEGER NOT NULL,
            request_sha256  TEXT,
            response_sha256 TEXT,
            action          TEXT,
            actor           TEXT,
            prev_hash       TEXT NOT NULL,
            hash            TEXT NOT NULL
        ) STRICT;
        CREATE INDEX audit_by_tenant ON audit(tenant_id, seq);
        """,
    ];

    public static string ConnectionString(string path, bool readOnly) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
        // Connections are few and long-lived (the writer) or rare (queries, verify): unpooled ones
        // leave no file handle behind once closed.
        Pooling = false,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Opens the writer's connection: creates the schema, WAL, <c>synchronous=FULL</c>.</summary>
    public static SqliteConnection OpenWriter(string path)
    {
        var connection = new SqliteConnection(ConnectionString(path, readOnly: false));
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode = WAL;");
            // FULL: a committed batch survives a power loss, not only a crash of this process.
            Execute(connection, "PRAGMA synchronous = FULL;");
            var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version;"), CultureInfo.InvariantCulture);
            if (version > Migrations.Length)
            {
                throw new InvalidOperationException(
                    $"{path} has schema version {version}, newer than this build's {Migrations.Length}: refusing to open it.");
            }
            for (var next = version; next < Migrations.Length; next++)
            {
                using var transaction = connection.BeginTransaction();
                Execute(connection, Migrations[next], transaction);
                // PRAGMA takes no parameters; the value is our own integer.
                Execute(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {next + 1};"), transaction);
                transaction.Commit();
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens a read-only connection to an existing database.</summary>
    public static SqliteConnection OpenReader(string path)
    {
        var connection = new SqliteConnection(ConnectionString(path, readOnly: true));
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The last entry's sequence number and hash, or (0, genesis) for an empty table.</summary>
    public static (long Seq, string Hash) Last(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetString(1)) : (0, AuditHash.Genesis);
    }

    /// <summary>The stored hash of entry <paramref name="seq"/>, or null when there is none.</summary>
    public static string? HashAt(SqliteConnection connection, long seq)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT hash FROM audit WHERE seq = $seq;";
        command.Parameters.AddWithValue("$seq", seq);
        return command.ExecuteScalar() as string;
    }

    public static AuditEntry ReadEntry(SqliteDataReader reader) => new()
    {
        Seq = reader.GetInt64(0),
        Time = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
        Kind = reader.GetString(2),
        TenantId = NullableString(reader, 3),
        KeyId = NullableString(reader, 4),
        RequestId = NullableString(reader, 5),
        ProviderId = NullableString(reader, 6),
        PolicyId = NullableString(reader, 7),
        Status = reader.GetString(8),
        CostNanos = reader.GetInt64(9),
        InputTokens = reader.GetInt64(10),
        OutputTokens = reader.GetInt64(11),
        RequestSha256 = NullableString(reader, 12),
        ResponseSha256 = NullableString(reader, 13),
        Action = NullableString(reader, 14),
        Actor = NullableString(reader, 15),
        PrevHash = reader.GetString(16),
        Hash = reader.GetString(17),
    };

    public static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
