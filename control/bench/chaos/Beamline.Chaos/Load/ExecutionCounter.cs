using Microsoft.Data.Sqlite;

namespace Beamline.Chaos.Load;

/// <summary>
/// Counts the side effects of the load: the rows of the tenant's <c>runs</c> table per request id,
/// read from the SQLite file the workers wrote (WAL included), apart from anything the clients heard.
/// </summary>
public static class ExecutionCounter
{
    /// <summary>The table every non-idempotent block inserts into.</summary>
    public const string CreateTableSql = "CREATE TABLE IF NOT EXISTS runs(id TEXT NOT NULL, path TEXT NOT NULL)";

    /// <summary>Rows per id in <paramref name="database"/>; empty when the file does not exist.</summary>
    public static async Task<IReadOnlyDictionary<string, int>> RowsPerIdAsync(string database, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!File.Exists(database))
        {
            return rows;
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        await using var connection = new SqliteConnection(builder.ToString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, COUNT(*) FROM runs GROUP BY id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows[reader.GetString(0)] = reader.GetInt32(1);
        }
        return rows;
    }
}
