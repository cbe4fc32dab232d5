using Microsoft.Data.Sqlite;

namespace Beamline.Accounting.Ledger;

/// <summary>
/// The schema of <c>usage.db</c> (WAL; one writer, readers alongside):
/// <list type="bullet">
/// <item><c>usage</c>: one row per finished execute, as recorded (the CSV's source of truth for audits).</item>
/// <item><c>usage_daily</c>: sums per (tenant, UTC day, team, key, provider, model), upserted in the same
/// transaction as the rows they sum, so the two never disagree; reports and budgets read only these
/// (a month is at most a few thousand rows however many requests it had).</item>
/// <item><c>alerts_fired</c>: the budget alerts already raised, one per (tenant, level, id, budget kind,
/// period, threshold), so that a restart does not raise them again.</item>
/// </list>
/// An absent team, key or model is stored as the empty string, so that such requests group together
/// (SQLite keys treat every NULL as distinct).
/// </summary>
internal static class UsageDatabase
{
    private const int SchemaVersion = 1;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS usage (
          id INTEGER PRIMARY KEY,
          time_ms INTEGER NOT NULL,
          day TEXT NOT NULL,
          tenant TEXT NOT NULL,
          team TEXT NOT NULL,
          key TEXT NOT NULL,
          request_id TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          input INTEGER NOT NULL,
          output INTEGER NOT NULL,
          cached INTEGER NOT NULL,
          estimated INTEGER NOT NULL,
          cost_nanos INTEGER NOT NULL,
          status TEXT NOT NULL,
          face TEXT NOT NULL,
          latency_ms REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS usage_by_tenant_day ON usage (tenant, day);
        CREATE TABLE IF NOT EXISTS usage_daily (
          tenant TEXT NOT NULL,
          day TEXT NOT NULL,
          team TEXT NOT NULL,
          key TEXT NOT NULL,
          provider TEXT NOT NULL,
          model TEXT NOT NULL,
          requests INTEGER NOT NULL,
          input INTEGER NOT NULL,
          output INTEGER NOT NULL,
          cached INTEGER NOT NULL,
          cost_nanos INTEGER NOT NULL,
          estimated_requests INTEGER NOT NULL,
          PRIMARY KEY (tenant, day, team, key, provider, model)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS usage_daily_by_day ON usage_daily (day);
        CREATE TABLE IF NOT EXISTS alerts_fired (
          tenant TEXT NOT NULL,
          level TEXT NOT NULL,
          level_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          period TEXT NOT NULL,
          threshold INTEGER NOT NULL,
          fired_at_ms INTEGER NOT NULL,
          PRIMARY KEY (tenant, level, level_id, kind, period, threshold)) WITHOUT ROWID;
        """;

    /// <summary>Opens a connection to <paramref name="path"/> (WAL, a 30 s busy timeout), creating the file and schema when needed.</summary>
    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString());
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;");
            using (var version = connection.CreateCommand())
            {
                version.CommandText = "PRAGMA user_version";
                if (Convert.ToInt64(version.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) < SchemaVersion)
                {
                    Execute(connection, Schema + $"PRAGMA user_version = {SchemaVersion};");
                }
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens a connection to a ledger <see cref="Open"/> has already set up (WAL persists in the file).</summary>
    public static SqliteConnection OpenExisting(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString());
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

    /// <summary>Runs <paramref name="sql"/>.</summary>
    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>The stored form of an optional id: the empty string for none.</summary>
    public static string Stored(string? id) => id ?? "";

    /// <summary>The id of a stored value: null for the empty string.</summary>
    public static string? Id(string stored) => stored.Length == 0 ? null : stored;

    /// <summary><c>YYYY-MM-DD</c> of a day.</summary>
    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}
