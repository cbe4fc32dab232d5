using BenchmarkDotNet.Attributes;
using Beamline.Tenancy;
using Beamline.Tenancy.Budgets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Benchmarks;

/// <summary>
/// The budget gate's hot path (target: reserve + settle &lt; 2 µs median, no allocation): an API key
/// with monthly and daily budgets, in a team with a daily budget, in a tenant with a monthly budget
/// and tokens per minute; the levels resolved from a real tenant directory (SQLite, opened once).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class BudgetBenchmarks
{
    private const long Cost = 2_500_000; // $0.0025 reserved
    private string _folder = null!;
    private TenantDirectory _directory = null!;
    private BudgetGate _gate = null!;
    private string _keyId = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("beamline-budget-bench-").FullName;
        var options = Options.Create(new TenancyOptions { DatabasePath = Path.Combine(_folder, "tenancy.db"), Pepper = "bench-pepper-0123456789abcdef" });
        _directory = new TenantDirectory(options, new JsonObjectPolicyValidator(), TimeProvider.System, NullLogger<TenantDirectory>.Instance);
        _directory.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
        _directory.CreateTenantAsync("tenant_bench", null, null,
            new TenancyLimits { MonthlyBudgetUsd = 1_000_000_000m, TokensPerMinute = long.MaxValue - 1 }, CancellationToken.None).GetAwaiter().GetResult();
        _directory.CreateTeamAsync("tenant_bench", "team_bench", null, new TenancyLimits { DailyBudgetUsd = 1_000_000_000m }, CancellationToken.None)
            .GetAwaiter().GetResult();
        _keyId = _directory.CreateKeyAsync("tenant_bench", "team_bench", null, null,
            new TenancyLimits { MonthlyBudgetUsd = 1_000_000_000m, DailyBudgetUsd = 1_000_000_000m }, CancellationToken.None)
            .GetAwaiter().GetResult().Info.KeyId;
        _gate = new BudgetGate(_directory, new InProcessBudgetCounters(), TimeProvider.System, Options.Create(new BudgetOptions()),
            NullBudgetAlertSink.Instance, NullLogger<BudgetGate>.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _gate.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Reserve at key, team and tenant, then settle to a smaller actual cost.</summary>
    [Benchmark(Baseline = true)]
    public bool ReserveSettle()
    {
        var grant = _gate.Reserve("tenant_bench", "team_bench", _keyId, Cost, 1_300);
        _gate.Settle(grant, Cost / 3, 700);
        return grant.IsGranted;
    }

    /// <summary>Reserve, then release (a failed call).</summary>
    [Benchmark]
    public bool ReserveRelease()
    {
        var grant = _gate.Reserve("tenant_bench", "team_bench", _keyId, Cost, 1_300);
        _gate.Release(grant);
        return grant.IsGranted;
    }

    /// <summary>The decide-time check (reserves nothing).</summary>
    [Benchmark]
    public bool Check() => _gate.Check("tenant_bench", "team_bench", _keyId) is null;
}
