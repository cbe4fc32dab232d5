using Beamline.Tenancy.Budgets;
using Beamline.Tenancy.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Tenancy.Tests.Budgets;

/// <summary>A budget gate over a real tenant directory (SQLite), a clock the test sets, and the alerts it raised.</summary>
public sealed class BudgetTestBed : IDisposable
{
    public const string TenantId = "tenant_a";
    public const string TeamId = "team_1";
    public const long Dollar = 1_000_000_000;
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly TempDirectory _temp;

    private BudgetTestBed(TempDirectory temp, TenantDirectory directory, IBudgetAlertSink? sink, int[]? thresholds, ISpendHistory? history)
    {
        _temp = temp;
        Directory = directory;
        Gate = new BudgetGate(directory, Counters, Clock, Options.Create(new BudgetOptions { AlertThresholds = thresholds }),
            sink ?? Alerts, NullLogger<BudgetGate>.Instance, history);
    }

    /// <summary>2025-01-02T00:00:00Z unless a test moves it.</summary>
    public ManualTimeProvider Clock { get; } = new(new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero));

    public TenantDirectory Directory { get; }

    public InProcessBudgetCounters Counters { get; } = new();

    public BudgetGate Gate { get; }

    public RecordingAlertSink Alerts { get; } = new();

    /// <summary>Opens a directory with <see cref="TenantId"/>, its team <see cref="TeamId"/>, and a gate over it.</summary>
    public static async Task<BudgetTestBed> StartAsync(TenancyLimits tenant, TenancyLimits? team = null, IBudgetAlertSink? sink = null,
        int[]? thresholds = null, ISpendHistory? history = null)
    {
        var temp = new TempDirectory();
        var directory = await Directories.OpenAsync(temp.DatabasePath);
        await directory.CreateTenantAsync(TenantId, null, null, tenant, None);
        await directory.CreateTeamAsync(TenantId, TeamId, null, team ?? TenancyLimits.None, None);
        return new BudgetTestBed(temp, directory, sink, thresholds, history);
    }

    /// <summary>A new key of the tenant (in <paramref name="teamId"/> when given).</summary>
    public async Task<Caller> KeyAsync(string? teamId, TenancyLimits? limits = null)
    {
        var created = await Directory.CreateKeyAsync(TenantId, teamId, null, null, limits ?? TenancyLimits.None, None);
        return new Caller(TenantId, teamId, created.Info.KeyId);
    }

    public BudgetGrant Reserve(Caller caller, long costNanos, long tokens = 0)
        => Gate.Reserve(caller.TenantId, caller.TeamId, caller.KeyId, costNanos, tokens);

    public BudgetGrant AssertGranted(Caller caller, long costNanos, long tokens = 0)
    {
        var grant = Reserve(caller, costNanos, tokens);
        Assert.True(grant.IsGranted, grant.Denial?.Message);
        return grant;
    }

    public BudgetDenial AssertRefused(Caller caller, long costNanos, BudgetLevel level, BudgetLimit limit, long tokens = 0)
    {
        var grant = Reserve(caller, costNanos, tokens);
        Assert.False(grant.IsGranted);
        var denial = grant.Denial!.Value;
        Assert.Equal(level, denial.Level);
        Assert.Equal(limit, denial.Limit);
        return denial;
    }

    /// <summary>Reserves and settles at once: a call that cost <paramref name="costNanos"/>.</summary>
    public void Spend(Caller caller, long costNanos, long tokens = 0)
        => Gate.Settle(AssertGranted(caller, costNanos, tokens), costNanos, tokens);

    public BudgetUsage Usage(BudgetLevel level, string id) => Gate.Read(level, TenantId, id);

    public void Advance(TimeSpan by) => Clock.Now += by;

    public void Dispose()
    {
        Gate.Dispose();
        _temp.Dispose();
    }

    /// <summary>Who calls: the ids the pipeline's caller carries.</summary>
    public sealed record Caller(string TenantId, string? TeamId, string? KeyId);
}

/// <summary>Keeps every crossing it is given.</summary>
public sealed class RecordingAlertSink : IBudgetAlertSink
{
    private readonly List<BudgetThresholdCrossed> _crossed = [];

    public IReadOnlyList<BudgetThresholdCrossed> Crossed
    {
        get
        {
            lock (_crossed)
            {
                return [.. _crossed];
            }
        }
    }

    public void OnThresholdCrossed(BudgetThresholdCrossed crossed)
    {
        lock (_crossed)
        {
            _crossed.Add(crossed);
        }
    }
}

/// <summary>Past spend as a ledger would report it: fixed amounts per level, and how often it was asked.</summary>
public sealed class FixedSpendHistory : ISpendHistory
{
    public Dictionary<(BudgetLevel, string), (long Month, long Day)> Spent { get; } = [];

    public int Asked { get; private set; }

    public (long MonthNanos, long DayNanos) SpentSoFar(BudgetLevel level, string tenantId, string id, DateTimeOffset now)
    {
        Asked++;
        return Spent.TryGetValue((level, id), out var spent) ? spent : (0, 0);
    }
}
