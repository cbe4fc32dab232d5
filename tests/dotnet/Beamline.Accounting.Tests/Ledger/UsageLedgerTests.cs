using Beamline.Accounting.Ledger;
using Beamline.Pipeline.Costs;
using Microsoft.Data.Sqlite;

namespace Beamline.Accounting.Tests.Ledger;

/// <summary>The ledger over a real SQLite file: batched appends, sums, restarts, tenant isolation, CSV.</summary>
public sealed class UsageLedgerTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 15, 30, 0, TimeSpan.Zero);
    private readonly LedgerDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Record_ManyRecordsInBatches_DailySumsEqualTheRawRows()
    {
        var random = new Random(42);
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var ledger = UsageLedger.Open(_dir.DatabasePath, new UsageLedgerOptions { MaxBatchSize = 64 }))
        {
            for (var i = 0; i < 5000; i++)
            {
                var tenant = random.Next(3) switch { 0 => "tenant_a", 1 => "tenant_b", _ => "tenant_c" };
                var record = Record(tenant, Now.AddDays(-random.Next(25)).AddMinutes(-random.Next(600)), random.Next(1, 1_000_000),
                    team: random.Next(3) == 0 ? null : "team_" + random.Next(2), key: "key_" + random.Next(4),
                    provider: "p" + random.Next(3), model: random.Next(4) == 0 ? null : "m" + random.Next(2),
                    input: random.Next(1, 5000), output: random.Next(0, 800), cached: random.Next(0, 50), estimated: random.Next(5) == 0);
                expected[tenant] = expected.GetValueOrDefault(tenant) + record.CostNanos;
                ledger.Record(record);
            }
            await ledger.FlushAsync();
            Assert.Equal(5000, ledger.Written);
            Assert.Equal(0, ledger.Dropped + ledger.Failed);
        }

        using var connection = new SqliteConnection($"Data Source={_dir.DatabasePath}");
        connection.Open();
        // Every column of the per-day sums, grouped as they are, equals the raw rows' sums.
        Assert.Equal(0L, Scalar(connection, """
            SELECT COUNT(*) FROM (
              SELECT tenant, day, team, key, provider, model, COUNT(*) r, SUM(input) i, SUM(output) o, SUM(cached) c, SUM(cost_nanos) n, SUM(estimated) e
              FROM usage GROUP BY tenant, day, team, key, provider, model
              EXCEPT
              SELECT tenant, day, team, key, provider, model, requests, input, output, cached, cost_nanos, estimated_requests FROM usage_daily)
            """));
        Assert.Equal(Scalar(connection, "SELECT COUNT(*) FROM usage_daily"),
            Scalar(connection, "SELECT COUNT(*) FROM (SELECT DISTINCT tenant, day, team, key, provider, model FROM usage)"));
        Assert.Equal(5000L, Scalar(connection, "SELECT SUM(requests) FROM usage_daily"));
        await using var reopened = UsageLedger.Open(_dir.DatabasePath);
        foreach (var (tenant, nanos) in expected)
        {
            // The whole series lies in November except records from before the 1st.
            var november = reopened.Query(tenant, UsagePeriod.Of(Now), null, Now);
            var october = reopened.Query(tenant, Period("2026-10"), null, Now);
            Assert.Equal(nanos, november.SpendNanos + october.SpendNanos);
        }
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsEveryRecordWrittenAndQueued()
    {
        await using (var ledger = UsageLedger.Open(_dir.DatabasePath))
        {
            for (var i = 0; i < 300; i++)
            {
                ledger.Record(Record("tenant_a", Now, 1_000));
            }
            // No flush: disposal writes what is queued.
        }
        await using var reopened = UsageLedger.Open(_dir.DatabasePath);
        var report = reopened.Query("tenant_a", UsagePeriod.Of(Now), 10m, Now);
        Assert.Equal(300, report.Requests);
        Assert.Equal(300_000, report.SpendNanos);
        Assert.Equal(0.0003m, report.SpendUsd);
        Assert.Equal(10m, report.BudgetUsd);
    }

    [Fact]
    public async Task Query_ReportsOnlyTheTenantAsked()
    {
        await using var ledger = UsageLedger.Open(_dir.DatabasePath);
        ledger.Record(Record("tenant_a", Now, 5_000_000, team: "shared_team", key: "shared_key", provider: "openai"));
        ledger.Record(Record("tenant_b", Now, 7_000_000, team: "shared_team", key: "shared_key", provider: "openai"));
        await ledger.FlushAsync();

        var a = ledger.Query("tenant_a", UsagePeriod.Of(Now), null, Now);
        var none = ledger.Query("tenant_unknown", UsagePeriod.Of(Now), null, Now);

        Assert.Equal(5_000_000, a.SpendNanos);
        Assert.Equal(5_000_000, Assert.Single(a.ByTeam).CostNanos);
        Assert.Equal(5_000_000, Assert.Single(a.ByKey).CostNanos);
        Assert.Equal(0, none.Requests);
        Assert.Empty(none.ByProvider);
        Assert.Equal(5_000_000, ledger.MonthToDate("tenant_a", "shared_team", "shared_key", Now));
        Assert.Equal(7_000_000, ledger.MonthToDate("tenant_b", null, null, Now));
    }

    [Fact]
    public async Task Query_TotalsBreakdownsSortedBySpendAndADailySeriesWithEmptyDays()
    {
        await using var ledger = UsageLedger.Open(_dir.DatabasePath);
        var day1 = new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
        ledger.Record(Record("t", day1, 1_000_000, team: "red", key: "k1", provider: "cheap", model: "small", input: 100, output: 10, cached: 40));
        ledger.Record(Record("t", day1.AddDays(2), 9_000_000, team: "blue", key: "k2", provider: "dear", model: "large", input: 300, output: 30, estimated: true));
        ledger.Record(Record("t", day1.AddDays(2), 2_000_000, team: null, key: null, provider: "dear", model: null, input: 50, output: 5));
        ledger.Record(Record("t", new DateTimeOffset(2026, 10, 31, 23, 59, 59, TimeSpan.Zero), 50_000_000)); // October: not counted
        await ledger.FlushAsync();

        var report = ledger.Query("t", Period("2026-11"), null, Now);

        Assert.Equal(3, report.Requests);
        Assert.Equal(12_000_000, report.SpendNanos);
        Assert.Equal(450, report.InputTokens);
        Assert.Equal(45, report.OutputTokens);
        Assert.Equal(40, report.CachedInputTokens);
        Assert.Equal(1, report.EstimatedRequests);
        Assert.Equal(["dear", "cheap"], report.ByProvider.Select(b => b.Id));
        Assert.Equal([11_000_000L, 1_000_000L], report.ByProvider.Select(b => b.CostNanos));
        Assert.Equal(["large", null, "small"], report.ByModel.Select(b => b.Id));
        Assert.Equal(["blue", null, "red"], report.ByTeam.Select(b => b.Id));
        Assert.Equal(["k2", null, "k1"], report.ByKey.Select(b => b.Id));
        Assert.Equal(20, report.Daily.Length); // the 1st to the 20th
        Assert.Equal([1_000_000L, 0L, 11_000_000L, 0L], report.Daily.Take(4).Select(d => d.CostNanos));
        Assert.Equal(new DateOnly(2026, 11, 3), report.Daily[2].Day);
        Assert.Equal(2, report.Daily[2].Requests);
        Assert.Equal(31, ledger.Query("t", Period("2026-10"), null, Now).Daily.Length);
    }

    [Fact]
    public async Task SpendByLevel_MonthAndDayAtEveryLevel()
    {
        await using var ledger = UsageLedger.Open(_dir.DatabasePath);
        ledger.Record(Record("t", Now, 100, team: "red", key: "k1"));
        ledger.Record(Record("t", Now.AddDays(-3), 20, team: "red", key: "k2"));
        ledger.Record(Record("t", Now.AddDays(-1), 3, team: null, key: "k3"));
        ledger.Record(Record("u", Now.AddMonths(-1), 9999, team: "red", key: "k1")); // last month: not seeded
        await ledger.FlushAsync();

        var levels = ledger.SpendByLevel(Now).ToList();

        Assert.Equal(
            [("tenant", "t", "t", 123L, 100L), ("team", "t", "red", 120L, 100L), ("key", "t", "k1", 100L, 100L), ("key", "t", "k2", 20L, 0L), ("key", "t", "k3", 3L, 0L)],
            levels);
        Assert.Equal(100, ledger.DayToDate("t", null, null, Now));
        Assert.Equal(120, ledger.MonthToDate("t", "red", null, Now));
        Assert.Equal(20, ledger.MonthToDate("t", null, "k2", Now));
    }

    [Fact]
    public async Task Record_WithoutTenantOrBeyondAFullQueue_IsDroppedAndCounted()
    {
        await using var ledger = UsageLedger.Open(_dir.DatabasePath, new UsageLedgerOptions { QueueCapacity = 1, MaxBatchSize = 1 });
        ledger.Record(Record("", Now, 1));
        Assert.Equal(1, ledger.Dropped);
        for (var i = 0; i < 2000; i++)
        {
            ledger.Record(Record("t", Now, 1));
        }
        await ledger.FlushAsync();
        // Every record is either written or counted as dropped, none lost silently.
        Assert.Equal(2001, ledger.Written + ledger.Dropped);
        Assert.Equal(ledger.Written, ledger.Query("t", UsagePeriod.Of(Now), null, Now).Requests);
    }

    [Fact]
    public async Task WriteCsv_OneRowPerDayTeamKeyProviderModel_QuotedAsRfc4180()
    {
        await using var ledger = UsageLedger.Open(_dir.DatabasePath);
        ledger.Record(Record("t", Now, 1_500_000_000, team: "red", key: "k1", provider: "openai", model: "gpt, \"mini\"", input: 10, output: 2));
        ledger.Record(Record("t", Now, 500_000_000, team: "red", key: "k1", provider: "openai", model: "gpt, \"mini\"", input: 5, output: 1, estimated: true));
        ledger.Record(Record("t", Now.AddDays(-1), 5, team: null, key: null, provider: "local", model: null));
        ledger.Record(Record("other", Now, 7, provider: "secret-provider"));
        await ledger.FlushAsync();

        using var output = new StringWriter();
        ledger.WriteCsv(output, "t", UsagePeriod.Of(Now));

        Assert.Equal(
            UsageLedger.CsvHeader + "\r\n"
            + "2026-11-19,,,local,,1,0,0,0,0,0.000000005\r\n"
            + "2026-11-20,red,k1,openai,\"gpt, \"\"mini\"\"\",2,15,3,0,1,2\r\n",
            output.ToString());
    }

    [Fact]
    public void Period_ParsesOnlyYearDashMonth()
    {
        Assert.True(UsagePeriod.TryParse("2026-02", out var february));
        Assert.Equal(28, february.Value.DaysInPeriod);
        Assert.Equal("2026-02", february.Value.ToString());
        foreach (var bad in (string?[])[null, "", "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "１２３４-11", "+026-11"])
        {
            Assert.False(UsagePeriod.TryParse(bad, out _), bad);
        }
    }

    internal static UsageRecord Record(string tenant, DateTimeOffset time, long costNanos, string? team = null, string? key = null,
        string provider = "openai", string? model = "gpt-4o-mini", long input = 0, long output = 0, long cached = 0, bool estimated = false) => new()
        {
            Time = time,
            TenantId = tenant,
            TeamId = team,
            KeyId = key,
            RequestId = Guid.NewGuid().ToString("N"),
            ProviderId = provider,
            Model = model,
            InputTokens = input,
            OutputTokens = output,
            CachedInputTokens = cached,
            Estimated = estimated,
            CostNanos = costNanos,
            Face = "openai",
            LatencyMs = 12.5,
        };

    private static UsagePeriod Period(string text) => UsagePeriod.TryParse(text, out var period) ? period.Value : throw new ArgumentException(text);

    private static long Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
