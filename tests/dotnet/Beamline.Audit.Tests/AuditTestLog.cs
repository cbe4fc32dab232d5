using Microsoft.Data.Sqlite;

namespace Beamline.Audit.Tests;

/// <summary>A temporary data directory with a real audit log in it; removed afterwards.</summary>
public sealed class AuditTestDirectory : IDisposable
{
    public AuditTestDirectory()
    {
        Path = Directory.CreateTempSubdirectory("beamline-audit-").FullName;
    }

    public string Path { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, "audit.db");

    public string HeadPath => System.IO.Path.Combine(Path, "audit.head");

    public AuditLog Open(int maxBatch = 4096, IAuditHeadPublisher? publisher = null)
        => AuditLog.Open(new AuditOptions { DataDirectory = Path, MaxBatch = maxBatch }, publisher);

    /// <summary>Writes <paramref name="count"/> entries (tenants t0..t2 in turn) and closes the log.</summary>
    public async Task WriteAsync(int count, int maxBatch = 4096)
    {
        await using var log = Open(maxBatch);
        for (var i = 0; i < count; i++)
        {
            log.Append(Record(i));
        }
    }

    public static AuditRecord Record(int i, string? tenant = null) => new()
    {
        Kind = (i % 3) switch { 0 => AuditKinds.Decision, 1 => AuditKinds.Execution, _ => AuditKinds.Admin },
        TenantId = tenant ?? $"t{i % 3}",
        KeyId = "key-" + i,
        RequestId = "req-" + i,
        ProviderId = "openai",
        PolicyId = "default",
        Status = "ok",
        CostNanos = 1000L * i,
        InputTokens = i,
        OutputTokens = 2 * i,
        RequestSha256 = AuditHash.Sha256Hex(System.Text.Encoding.UTF8.GetBytes("body " + i)),
    };

    /// <summary>Runs SQL on the database with a connection of its own, as someone tampering would.</summary>
    public void Tamper(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
