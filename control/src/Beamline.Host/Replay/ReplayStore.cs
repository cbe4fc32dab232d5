using System.Data;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.Data.Sqlite;

namespace Beamline.Host.Replay;

/// <summary>
/// <c>replay.db</c>: the kept requests of the tenants that opted in to replay, one row per
/// (tenant, request id); a request id seen again replaces its row. WAL, so that the admin API
/// reads while the capture writer writes. Every method opens its own (pooled) connection.
/// </summary>
internal sealed class ReplayStore
{
    /// <summary>The database's file name in the data directory.</summary>
    public const string FileName = "replay.db";

    private const string Columns = "tenant_id, request_id, at_ms, face, format, message_type, policy_id, used_policy_id, pinned_provider, "
        + "provider_id, model, status, error_message, stream, request_kind, request_body, request_truncated, response_body, "
        + "response_truncated, metadata, input_tokens, output_tokens, cached_input_tokens, usage_estimated, cost_nanos";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS replay_requests (
            tenant_id TEXT NOT NULL,
            request_id TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            face TEXT NOT NULL,
            format TEXT NOT NULL,
            message_type TEXT NOT NULL,
            policy_id TEXT,
            used_policy_id TEXT,
            pinned_provider TEXT,
            provider_id TEXT,
            model TEXT,
            status TEXT NOT NULL,
            error_message TEXT,
            stream INTEGER NOT NULL,
            request_kind TEXT NOT NULL,
            request_body BLOB,
            request_truncated INTEGER NOT NULL,
            response_body BLOB,
            response_truncated INTEGER NOT NULL,
            metadata TEXT NOT NULL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_input_tokens INTEGER,
            usage_estimated INTEGER,
            cost_nanos INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, request_id)
        );
        CREATE INDEX IF NOT EXISTS replay_requests_by_id ON replay_requests (request_id);
        CREATE INDEX IF NOT EXISTS replay_requests_by_time ON replay_requests (at_ms);
        """;

    private readonly string _connectionString;

    /// <summary>A store on <paramref name="databasePath"/> (created by <see cref="InitializeAsync"/>).</summary>
    public ReplayStore(string databasePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Creates the database and its table if needed and switches it to WAL.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var wal = Command(connection, "PRAGMA journal_mode = WAL;"))
        {
            await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using var create = Command(connection, Schema);
        await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="records"/> in one transaction (a request id already kept for the tenant is replaced).</summary>
    public async Task WriteAsync(IReadOnlyList<ReplayRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
        await using var insert = Command(connection, $"INSERT OR REPLACE INTO replay_requests ({Columns}) VALUES ({Parameters()});");
        insert.Transaction = transaction;
        foreach (var record in records)
        {
            Bind(insert, record);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The kept requests with <paramref name="requestId"/> that finished at or after
    /// <paramref name="notBefore"/> (older ones have expired even if not yet purged), of
    /// <paramref name="tenantId"/> only when given; at most two (two mean the id is ambiguous).
    /// </summary>
    public async Task<IReadOnlyList<ReplayRecord>> FindAsync(string requestId, string? tenantId, DateTimeOffset notBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection,
            $"SELECT {Columns} FROM replay_requests WHERE request_id = $id AND at_ms >= $since AND ($tenant IS NULL OR tenant_id = $tenant) ORDER BY tenant_id LIMIT 2;");
        select.Parameters.AddWithValue("$id", requestId);
        select.Parameters.AddWithValue("$since", notBefore.ToUnixTimeMilliseconds());
        select.Parameters.AddWithValue("$tenant", (object?)tenantId ?? DBNull.Value);
        var found = new List<ReplayRecord>(1);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(Read(reader));
        }
        return found;
    }

    /// <summary>The request ids of the tenant's kept requests that begin with <paramref name="prefix"/>.</summary>
    public async Task<IReadOnlyList<string>> FindIdsWithPrefixAsync(string tenantId, string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // substr, not LIKE: a request id may hold % or _.
        await using var select = Command(connection,
            "SELECT request_id FROM replay_requests WHERE tenant_id = $tenant AND substr(request_id, 1, length($prefix)) = $prefix;");
        select.Parameters.AddWithValue("$tenant", tenantId);
        select.Parameters.AddWithValue("$prefix", prefix);
        var ids = new List<string>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    /// <summary>Deletes the requests that finished before <paramref name="before"/>; returns how many.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var delete = Command(connection, "DELETE FROM replay_requests WHERE at_ms < $before;");
        delete.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Parameters() => string.Join(", ", Columns.Split(", ").Select(column => "$" + column));

    private static void Bind(SqliteCommand command, ReplayRecord record)
    {
        var values = new object?[]
        {
            record.TenantId, record.RequestId, record.At.ToUnixTimeMilliseconds(), record.Face, record.Format.ToString(), record.MessageType,
            record.PolicyId, record.UsedPolicyId, record.PinnedProvider, record.ProviderId, record.Model, record.Status, record.ErrorMessage,
            record.Stream ? 1 : 0, record.RequestKind.ToString(), record.RequestBody, record.RequestTruncated ? 1 : 0, record.ResponseBody,
            record.ResponseTruncated ? 1 : 0, JsonSerializer.Serialize(record.Metadata, ReplayJsonContext.Default.IReadOnlyDictionaryStringString),
            record.Usage?.InputTokens, record.Usage?.OutputTokens, record.Usage?.CachedInputTokens,
            record.Usage is { } usage ? (usage.Estimated ? 1 : 0) : null, record.CostNanos,
        };
        if (command.Parameters.Count == 0)
        {
            foreach (var column in Columns.Split(", "))
            {
                command.Parameters.Add(new SqliteParameter("$" + column, DBNull.Value));
            }
        }
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }
    }

    private static ReplayRecord Read(SqliteDataReader reader)
    {
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        byte[]? Blob(int i) => reader.IsDBNull(i) ? null : (byte[])reader.GetValue(i);
        return new ReplayRecord
        {
            TenantId = reader.GetString(0),
            RequestId = reader.GetString(1),
            At = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
            Face = reader.GetString(3),
            Format = Enum.TryParse<WireFormat>(reader.GetString(4), out var format) ? format : WireFormat.Cp1,
            MessageType = reader.GetString(5),
            PolicyId = Text(6),
            UsedPolicyId = Text(7),
            PinnedProvider = Text(8),
            ProviderId = Text(9),
            Model = Text(10),
            Status = reader.GetString(11),
            ErrorMessage = Text(12),
            Stream = reader.GetInt64(13) != 0,
            RequestKind = Enum.TryParse<PayloadKind>(reader.GetString(14), out var kind) ? kind : PayloadKind.None,
            RequestBody = Blob(15),
            RequestTruncated = reader.GetInt64(16) != 0,
            ResponseBody = Blob(17),
            ResponseTruncated = reader.GetInt64(18) != 0,
            Metadata = JsonSerializer.Deserialize(reader.GetString(19), ReplayJsonContext.Default.IReadOnlyDictionaryStringString)
                ?? new Dictionary<string, string>(StringComparer.Ordinal),
            Usage = reader.IsDBNull(20) ? null : new TokenUsage(reader.GetInt64(20), reader.GetInt64(21), reader.GetInt64(22), reader.GetInt64(23) != 0),
            CostNanos = reader.GetInt64(24),
        };
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

    private static SqliteCommand Command(SqliteConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }
}

/// <summary>The JSON of the <c>metadata</c> column.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
internal sealed partial class ReplayJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
