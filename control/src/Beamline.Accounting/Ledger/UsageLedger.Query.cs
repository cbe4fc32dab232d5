using System.Collections.Immutable;
using Beamline.Accounting.Reports;
using Microsoft.Data.Sqlite;

namespace Beamline.Accounting.Ledger;

public sealed partial class UsageLedger
{
    /// <summary>
    /// <paramref name="tenantId"/>'s usage in <paramref name="period"/> as of <paramref name="now"/>,
    /// read from the per-day sums (records still queued are not in it: <see cref="FlushAsync"/> first
    /// when that matters). <paramref name="budgetUsd"/> is the tenant's monthly budget, carried into
    /// the report. <see cref="UsageReport.Suggestions"/> is left empty for the caller, who has the catalog.
    /// </summary>
    public UsageReport Query(string tenantId, UsagePeriod period, decimal? budgetUsd, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var providers = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var models = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var teams = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var keys = new Dictionary<string, Sums>(StringComparer.Ordinal);
        var providerModels = new Dictionary<(string Provider, string Model), Sums>();
        var dailyCost = new long[period.DaysInPeriod];
        var dailyRequests = new long[period.DaysInPeriod];
        var total = new Sums();
        long estimated = 0;

        using (var connection = OpenReader())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT day, team, key, provider, model, requests, input, output, cached, cost_nanos, estimated_requests
                FROM usage_daily WHERE tenant = $tenant AND day >= $from AND day <= $to
                """;
            command.Parameters.AddWithValue("$tenant", tenantId);
            command.Parameters.AddWithValue("$from", UsageDatabase.Day(period.FirstDay));
            command.Parameters.AddWithValue("$to", UsageDatabase.Day(period.LastDay));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var sums = new Sums(reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9));
                var dayOfMonth = int.Parse(reader.GetString(0).AsSpan(8, 2), System.Globalization.CultureInfo.InvariantCulture);
                dailyCost[dayOfMonth - 1] += sums.CostNanos;
                dailyRequests[dayOfMonth - 1] += sums.Requests;
                total += sums;
                estimated += reader.GetInt64(10);
                Add(teams, reader.GetString(1), sums);
                Add(keys, reader.GetString(2), sums);
                Add(providers, reader.GetString(3), sums);
                Add(models, reader.GetString(4), sums);
                var pair = (reader.GetString(3), reader.GetString(4));
                providerModels[pair] = providerModels.GetValueOrDefault(pair) + sums;
            }
        }

        var shownDays = today > period.LastDay ? period.DaysInPeriod : today < period.FirstDay ? 0 : today.Day;
        var daily = ImmutableArray.CreateBuilder<DailyUsage>(shownDays);
        for (var i = 0; i < shownDays; i++)
        {
            daily.Add(new DailyUsage(period.FirstDay.AddDays(i), dailyRequests[i], dailyCost[i]));
        }
        return new UsageReport
        {
            TenantId = tenantId,
            Period = period,
            BudgetUsd = budgetUsd,
            SpendNanos = total.CostNanos,
            Requests = total.Requests,
            InputTokens = total.Input,
            OutputTokens = total.Output,
            CachedInputTokens = total.Cached,
            EstimatedRequests = estimated,
            ByProvider = Breakdown(providers),
            ByModel = Breakdown(models),
            ByTeam = Breakdown(teams),
            ByKey = Breakdown(keys),
            ByProviderModel = [.. providerModels
                .Select(p => new ProviderModelUsage(p.Key.Provider, UsageDatabase.Id(p.Key.Model), p.Value.Requests, p.Value.Input, p.Value.Output, p.Value.Cached, p.Value.CostNanos))
                .OrderByDescending(p => p.CostNanos).ThenBy(p => p.ProviderId, StringComparer.Ordinal).ThenBy(p => p.Model, StringComparer.Ordinal)],
            Daily = daily.MoveToImmutable(),
            Forecast = SpendForecast.Compute(period, dailyCost, now),
        };
    }

    /// <summary>
    /// The spend of every tenant, team and key with any this month, as of <paramref name="now"/>
    /// (UTC): this month's and today's, in nano-dollars. What the budget gate seeds its counters
    /// with at start. <c>level</c> is <c>tenant</c> (id = the tenant id), <c>team</c> or <c>key</c>.
    /// </summary>
    public IEnumerable<(string Level, string TenantId, string Id, long MonthNanos, long DayNanos)> SpendByLevel(DateTimeOffset now)
    {
        var period = UsagePeriod.Of(now);
        var today = UsageDatabase.Day(DateOnly.FromDateTime(now.UtcDateTime));
        var found = new List<(string, string, string, long, long)>();
        using var connection = OpenReader();
        foreach (var (level, column) in (ReadOnlySpan<(string, string?)>)[("tenant", null), ("team", "team"), ("key", "key")])
        {
            using var command = connection.CreateCommand();
            var id = column ?? "tenant";
            command.CommandText = $"""
                SELECT tenant, {id}, SUM(cost_nanos), SUM(CASE WHEN day = $today THEN cost_nanos ELSE 0 END)
                FROM usage_daily WHERE day >= $from AND day <= $to {(column is null ? "" : $"AND {column} <> ''")}
                GROUP BY tenant, {id} ORDER BY tenant, {id}
                """;
            command.Parameters.AddWithValue("$today", today);
            command.Parameters.AddWithValue("$from", UsageDatabase.Day(period.FirstDay));
            command.Parameters.AddWithValue("$to", UsageDatabase.Day(period.LastDay));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                found.Add((level, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
            }
        }
        return found;
    }

    /// <summary>The month's spend (UTC) so far of the tenant, or of one of its teams or keys, in nano-dollars.</summary>
    public long MonthToDate(string tenantId, string? teamId, string? keyId, DateTimeOffset now)
    {
        var period = UsagePeriod.Of(now);
        return Spend(tenantId, teamId, keyId, period.FirstDay, period.LastDay);
    }

    /// <summary>Today's spend (UTC) of the tenant, or of one of its teams or keys, in nano-dollars.</summary>
    public long DayToDate(string tenantId, string? teamId, string? keyId, DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        return Spend(tenantId, teamId, keyId, today, today);
    }

    private long Spend(string tenantId, string? teamId, string? keyId, DateOnly from, DateOnly to)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_daily
            WHERE tenant = $tenant AND day >= $from AND day <= $to{(teamId is null ? "" : " AND team = $team")}{(keyId is null ? "" : " AND key = $key")}
            """;
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$from", UsageDatabase.Day(from));
        command.Parameters.AddWithValue("$to", UsageDatabase.Day(to));
        if (teamId is not null)
        {
            command.Parameters.AddWithValue("$team", teamId);
        }
        if (keyId is not null)
        {
            command.Parameters.AddWithValue("$key", keyId);
        }
        return (long)command.ExecuteScalar()!;
    }

    private static void Add(Dictionary<string, Sums> into, string id, Sums sums)
        => into[id] = into.GetValueOrDefault(id) + sums;

    private static ImmutableArray<UsageBreakdown> Breakdown(Dictionary<string, Sums> sums)
        => [.. sums
            .Select(s => new UsageBreakdown(UsageDatabase.Id(s.Key), s.Value.Requests, s.Value.Input, s.Value.Output, s.Value.Cached, s.Value.CostNanos))
            .OrderByDescending(b => b.CostNanos).ThenByDescending(b => b.Requests).ThenBy(b => b.Id, StringComparer.Ordinal)];

    private readonly record struct Sums(long Requests, long Input, long Output, long Cached, long CostNanos)
    {
        public static Sums operator +(Sums a, Sums b) => new(a.Requests + b.Requests, a.Input + b.Input, a.Output + b.Output,
            a.Cached + b.Cached, a.CostNanos + b.CostNanos);
    }
}
