using BenchmarkDotNet.Attributes;
using Beamline.Accounting.Ledger;

namespace Beamline.Benchmarks;

/// <summary>
/// The usage ledger on a real SQLite file: sustained appends (50,000 records recorded, then flushed:
/// queue, batched transactions, per-day upserts; the time per operation is per record, so records/s
/// = 1e9 / mean ns), and a month's report over 1,000,000 records (target: under a second).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 6)]
public class UsageLedgerBenchmarks
{
    private const int Appends = 50_000;
    private const int MonthRecords = 1_000_000;
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);

    private string _directory = null!;
    private UsageLedger _ledger = null!;
    private UsageLedger _month = null!;
    private UsageRecord[] _records = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "beamline-bench-usage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _records = [.. Enumerable.Range(0, Appends).Select(i => Record(i, Now))];
        _ledger = UsageLedger.Open(Path.Combine(_directory, "append.db"));
        _month = UsageLedger.Open(Path.Combine(_directory, "month.db"));
        for (var i = 0; i < MonthRecords; i++)
        {
            _month.Record(Record(i, Now.AddDays(-(i % 30))));
            if (i % 100_000 == 0)
            {
                _month.FlushAsync().GetAwaiter().GetResult(); // stay far below the queue's bound
            }
        }
        _month.FlushAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ledger.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _month.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Appends)]
    public async Task SustainedAppends()
    {
        foreach (var record in _records)
        {
            _ledger.Record(record);
        }
        await _ledger.FlushAsync();
    }

    [Benchmark]
    public long QueryMonthOfOneMillionRecords() => _month.Query("tenant_3", UsagePeriod.Of(Now), 1000m, Now).SpendNanos;

    // 8 tenants, 20 teams, 200 keys, 5 providers × 2 models: a busy tenant's realistic spread.
    private static UsageRecord Record(int i, DateTimeOffset time) => new()
    {
        Time = time,
        TenantId = "tenant_" + (i % 8),
        TeamId = "team_" + (i % 20),
        KeyId = "key_" + (i % 200),
        RequestId = "req_" + i,
        ProviderId = "provider_" + (i % 5),
        Model = "model_" + (i % 10),
        InputTokens = 1000 + (i % 500),
        OutputTokens = 200 + (i % 100),
        CachedInputTokens = i % 3 == 0 ? 256 : 0,
        CostNanos = 1_500_000 + (i % 1000),
        Face = "openai",
        LatencyMs = 250,
    };
}
