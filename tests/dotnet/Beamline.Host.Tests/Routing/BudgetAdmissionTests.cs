using Beamline.Host.Routing;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Tenancy;
using Beamline.Tenancy.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Tests.Routing;

/// <summary>The pipeline's budget port over tenancy's budget gate, with a real tenant directory (SQLite).</summary>
public sealed class BudgetAdmissionTests : IAsyncLifetime
{
    private const long Dollar = 1_000_000_000;
    private const string Tenant = "tenant_b";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly string _folder = Directory.CreateTempSubdirectory("beamline-budgets-").FullName;
    private ServiceProvider _services = null!;
    private TenantDirectory _directory = null!;
    private BudgetGate _gate = null!;
    private BudgetAdmission _budgets = null!;

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Tenancy:DatabasePath"] = Path.Combine(_folder, "tenancy.db"),
            ["Beamline:Tenancy:Pepper"] = "test-pepper-0123456789abcdef",
            ["Beamline:Budgets:AlertThresholds:0"] = "90",
        }).Build();
        _services = new ServiceCollection().AddLogging().AddBeamlineTenancy(configuration).AddBeamlineBudgets(configuration).BuildServiceProvider();
        _directory = _services.GetRequiredService<TenantDirectory>();
        await _directory.InitializeAsync(None);
        _gate = _services.GetRequiredService<BudgetGate>();
        _budgets = new BudgetAdmission(_gate);
        await _directory.CreateTenantAsync(Tenant, null, null, new TenancyLimits { MonthlyBudgetUsd = 1m }, None);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void AddBeamlineBudgets_BindsTheAlertThresholds()
    {
        Assert.Equal([90], _services.GetRequiredService<IOptions<BudgetOptions>>().Value.ResolvedAlertThresholds);
        Assert.IsType<InProcessBudgetCounters>(_services.GetRequiredService<IBudgetCounters>());
    }

    [Fact]
    public void Reserve_TenantBudgetSpent_RefusesNamingTheLevelAndLimit()
    {
        var bus = new Caller { TenantId = Tenant };
        Assert.Null(_budgets.Check(bus));
        var hold = _budgets.Reserve(bus, Dollar, 100);
        Assert.True(hold.IsGranted);
        _budgets.Settle(hold, Dollar, 80);

        var refused = _budgets.Reserve(bus, 1, 1);

        Assert.False(refused.IsGranted);
        Assert.Equal(new BudgetRefusal("tenant", Tenant, "monthly_budget_usd", "tenant 'tenant_b' has reached its monthly budget of $1.00",
            refused.Refusal!.RetryAfterSeconds), refused.Refusal);
        Assert.InRange(refused.Refusal.RetryAfterSeconds, 1, 31 * 86_400);
        Assert.Equal(refused.Refusal, _budgets.Check(bus));
        Assert.Equal(Dollar, _gate.Read(BudgetLevel.Tenant, Tenant, Tenant).MonthSpentNanos);
    }

    [Fact]
    public async Task Reserve_KeyCaller_IsChargedAtItsKeyAndReleasedOnFailure()
    {
        var key = await _directory.CreateKeyAsync(Tenant, null, null, null, new TenancyLimits { DailyBudgetUsd = 0.25m }, None);
        var caller = new Caller { TenantId = Tenant, KeyId = key.Info.KeyId };

        var hold = _budgets.Reserve(caller, Dollar / 2, 0);
        var refused = _budgets.Reserve(caller, 1, 0);
        _budgets.Release(hold);
        _budgets.Settle(refused, 1, 0); // a refused hold holds nothing: settling it does nothing

        Assert.Equal(("key", key.Info.KeyId, "daily_budget_usd"), (refused.Refusal!.Level, refused.Refusal.Id, refused.Refusal.Limit));
        Assert.Equal(default, _gate.Read(BudgetLevel.Key, Tenant, key.Info.KeyId));
        Assert.Equal(default, _gate.Read(BudgetLevel.Tenant, Tenant, Tenant));
        Assert.True(_budgets.Reserve(caller, Dollar / 2, 0).IsGranted);
    }
}
