using Microsoft.Data.Sqlite;

namespace Beamline.Accounting.Ledger;

/// <summary>
/// Writes a batch of records in one transaction: each raw row, then the batch's per-day sums
/// (summed in memory first, so a batch of a thousand calls of one key is one upsert).
/// Commands are prepared once and reused.
/// </summary>
internal sealed class BatchWriter : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _upsert;
    private readonly Dictionary<DailyKey, DailySums> _sums = [];

    public BatchWriter(SqliteConnection connection)
    {
        _connection = connection;
        _insert = connection.CreateCommand();
        _insert.CommandText = """
            INSERT INTO usage (time_ms, day, tenant, team, key, request_id, provider, model, input, output, cached, estimated, cost_nanos, status, face, latency_ms)
            VALUES ($time, $day, $tenant, $team, $key, $request, $provider, $model, $input, $output, $cached, $estimated, $cost, $status, $face, $latency)
            """;
        foreach (var name in (string[])["$time", "$day", "$tenant", "$team", "$key", "$request", "$provider", "$model", "$input", "$output", "$cached", "$estimated", "$cost", "$status", "$face", "$latency"])
        {
            _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        _upsert = connection.CreateCommand();
        _upsert.CommandText = """
            INSERT INTO usage_daily (tenant, day, team, key, provider, model, requests, input, output, cached, cost_nanos, estimated_requests)
            VALUES ($tenant, $day, $team, $key, $provider, $model, $requests, $input, $output, $cached, $cost, $estimated)
            ON CONFLICT (tenant, day, team, key, provider, model) DO UPDATE SET
              requests = requests + excluded.requests,
              input = input + excluded.input,
              output = output + excluded.output,
              cached = cached + excluded.cached,
              cost_nanos = cost_nanos + excluded.cost_nanos,
              estimated_requests = estimated_requests + excluded.estimated_requests
            """;
        foreach (var name in (string[])["$tenant", "$day", "$team", "$key", "$provider", "$model", "$requests", "$input", "$output", "$cached", "$cost", "$estimated"])
        {
            _upsert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
    }

    public void Write(List<UsageRecord> batch)
    {
        _sums.Clear();
        using var transaction = _connection.BeginTransaction();
        _insert.Transaction = transaction;
        _upsert.Transaction = transaction;
        var p = _insert.Parameters;
        foreach (var record in batch)
        {
            var day = UsageDatabase.Day(DateOnly.FromDateTime(record.Time.UtcDateTime));
            var team = UsageDatabase.Stored(record.TeamId);
            var key = UsageDatabase.Stored(record.KeyId);
            var model = UsageDatabase.Stored(record.Model);
            p[0].Value = record.Time.ToUnixTimeMilliseconds();
            p[1].Value = day;
            p[2].Value = record.TenantId;
            p[3].Value = team;
            p[4].Value = key;
            p[5].Value = record.RequestId;
            p[6].Value = record.ProviderId;
            p[7].Value = model;
            p[8].Value = record.InputTokens;
            p[9].Value = record.OutputTokens;
            p[10].Value = record.CachedInputTokens;
            p[11].Value = record.Estimated ? 1 : 0;
            p[12].Value = record.CostNanos;
            p[13].Value = record.Status ?? UsageRecord.Ok;
            p[14].Value = record.Face ?? "";
            p[15].Value = double.IsFinite(record.LatencyMs) ? record.LatencyMs : 0.0;
            _insert.ExecuteNonQuery();

            var dailyKey = new DailyKey(record.TenantId, day, team, key, record.ProviderId, model);
            _sums.TryGetValue(dailyKey, out var sums);
            _sums[dailyKey] = sums.Add(record);
        }
        var u = _upsert.Parameters;
        foreach (var (key, sums) in _sums)
        {
            u[0].Value = key.Tenant;
            u[1].Value = key.Day;
            u[2].Value = key.Team;
            u[3].Value = key.Key;
            u[4].Value = key.Provider;
            u[5].Value = key.Model;
            u[6].Value = sums.Requests;
            u[7].Value = sums.Input;
            u[8].Value = sums.Output;
            u[9].Value = sums.Cached;
            u[10].Value = sums.CostNanos;
            u[11].Value = sums.Estimated;
            _upsert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public void Dispose()
    {
        _insert.Dispose();
        _upsert.Dispose();
    }

    private readonly record struct DailyKey(string Tenant, string Day, string Team, string Key, string Provider, string Model);

    private readonly record struct DailySums(long Requests, long Input, long Output, long Cached, long CostNanos, long Estimated)
    {
        public DailySums Add(in UsageRecord record) => new(Requests + 1, Input + record.InputTokens, Output + record.OutputTokens,
            Cached + record.CachedInputTokens, CostNanos + record.CostNanos, Estimated + (record.Estimated ? 1 : 0));
    }
}
