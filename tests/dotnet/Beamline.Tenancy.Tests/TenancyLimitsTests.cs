namespace Beamline.Tenancy.Tests;

public sealed class TenancyLimitsTests
{
    private static readonly TenancyLimits Tenant = new()
    {
        RequestsPerMinute = 600,
        TokensPerMinute = 100_000,
        MonthlyBudgetUsd = 100m,
        AllowedProviders = ["openai", "anthropic"],
    };

    [Fact]
    public void Narrow_NothingSet_InheritsEverything()
    {
        Assert.Same(Tenant, TenancyLimits.None.Narrow(Tenant));
    }

    [Fact]
    public void Narrow_LowerValue_OverridesAndTheRestInherits()
    {
        var effective = new TenancyLimits { RequestsPerMinute = 60, MaxConcurrentRequests = 4 }.Narrow(Tenant);

        Assert.Equal(60, effective.RequestsPerMinute);
        Assert.Equal(4, effective.MaxConcurrentRequests);
        Assert.Equal(100_000, effective.TokensPerMinute);
        Assert.Equal(100m, effective.MonthlyBudgetUsd);
        Assert.Equal(["openai", "anthropic"], effective.AllowedProviders!.Value.ToArray());
        Assert.Null(effective.AllowedPolicies);
    }

    [Fact]
    public void Narrow_HigherValue_IsCappedByTheParent()
    {
        var effective = new TenancyLimits { RequestsPerMinute = 10_000, MonthlyBudgetUsd = 500m }.Narrow(Tenant);

        Assert.Equal(600, effective.RequestsPerMinute);
        Assert.Equal(100m, effective.MonthlyBudgetUsd);
    }

    [Fact]
    public void Narrow_AllowLists_Intersect()
    {
        var effective = new TenancyLimits { AllowedProviders = ["anthropic", "local_llm"] }.Narrow(Tenant);

        Assert.Equal(["anthropic"], effective.AllowedProviders!.Value.ToArray());
        Assert.True(effective.AllowsProvider("anthropic"));
        Assert.False(effective.AllowsProvider("openai"));
        Assert.False(effective.AllowsProvider("local_llm"));
    }

    [Fact]
    public void AllowsPolicy_Unset_AllowsAny()
    {
        Assert.True(Tenant.AllowsPolicy("anything"));
    }

    [Fact]
    public void Narrow_ThreeLevels_KeyTeamTenant()
    {
        var team = new TenancyLimits { RequestsPerMinute = 120, AllowedPolicies = ["default", "cheap"] }.Narrow(Tenant);
        var key = new TenancyLimits { TokensPerMinute = 5_000, AllowedPolicies = ["cheap"] }.Narrow(team);

        Assert.Equal(120, key.RequestsPerMinute);
        Assert.Equal(5_000, key.TokensPerMinute);
        Assert.Equal(100m, key.MonthlyBudgetUsd);
        Assert.Equal(["cheap"], key.AllowedPolicies!.Value.ToArray());
    }

    [Fact]
    public void Narrow_DailyBudget_TakesTheSmallerAndCountsInEquality()
    {
        var tenant = new TenancyLimits { DailyBudgetUsd = 10m };
        var key = new TenancyLimits { DailyBudgetUsd = 20m }.Narrow(tenant);

        Assert.Equal(10m, key.DailyBudgetUsd);
        Assert.False(new TenancyLimits { DailyBudgetUsd = 1m }.IsEmpty);
        Assert.NotEqual(new TenancyLimits { DailyBudgetUsd = 1m }, new TenancyLimits { DailyBudgetUsd = 2m });
        Assert.Equal(new TenancyLimits { DailyBudgetUsd = 1m }.GetHashCode(), new TenancyLimits { DailyBudgetUsd = 1m }.GetHashCode());
    }
}
