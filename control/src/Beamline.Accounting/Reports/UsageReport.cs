using System.Collections.Immutable;
using Beamline.Accounting.Ledger;
using Beamline.Pipeline.Costs;

namespace Beamline.Accounting.Reports;

/// <summary>
/// A tenant's usage in one period (a UTC month): totals, breakdowns by provider, model, team and
/// key (each sorted by spend, highest first), the daily series, a forecast of the period's end
/// spend and suggestions of cheaper providers. Written as <c>usage</c> by <see cref="UsageJson"/>.
/// </summary>
public sealed record UsageReport
{
    /// <summary>The tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The period.</summary>
    public required UsagePeriod Period { get; init; }

    /// <summary>The tenant's monthly budget in USD (the caller's, from tenancy), or null when none is set.</summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary>The spend, in nano-dollars.</summary>
    public long SpendNanos { get; init; }

    /// <summary>The spend in USD.</summary>
    public decimal SpendUsd => Nanos.ToUsd(SpendNanos);

    /// <summary>Executes recorded (whatever their ending).</summary>
    public long Requests { get; init; }

    /// <summary>Prompt tokens, cached ones included.</summary>
    public long InputTokens { get; init; }

    /// <summary>Completion tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Prompt tokens read from providers' caches.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>Requests whose tokens were counted here because the provider reported none.</summary>
    public long EstimatedRequests { get; init; }

    /// <summary>By provider.</summary>
    public ImmutableArray<UsageBreakdown> ByProvider { get; init; } = [];

    /// <summary>By model (requests with no model under a null id).</summary>
    public ImmutableArray<UsageBreakdown> ByModel { get; init; } = [];

    /// <summary>By team (requests of no team under a null id).</summary>
    public ImmutableArray<UsageBreakdown> ByTeam { get; init; } = [];

    /// <summary>By API key (requests without a key under a null id).</summary>
    public ImmutableArray<UsageBreakdown> ByKey { get; init; } = [];

    /// <summary>By provider and model: what <see cref="ProviderSuggestions"/> reads.</summary>
    public ImmutableArray<ProviderModelUsage> ByProviderModel { get; init; } = [];

    /// <summary>Every day of the period up to the report's day (all of them for a past period), days without traffic included.</summary>
    public ImmutableArray<DailyUsage> Daily { get; init; } = [];

    /// <summary>The forecast of the period's end spend.</summary>
    public required SpendForecast Forecast { get; init; }

    /// <summary>Cheaper providers for the tenant's traffic (filled by the caller, who has the catalog).</summary>
    public ImmutableArray<ProviderSuggestion> Suggestions { get; init; } = [];
}

/// <summary>One line of a breakdown.</summary>
/// <param name="Id">The provider, model, team or key; null for requests without one.</param>
/// <param name="Requests">Requests.</param>
/// <param name="InputTokens">Prompt tokens.</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="CachedInputTokens">Cached prompt tokens.</param>
/// <param name="CostNanos">Spend in nano-dollars.</param>
public sealed record UsageBreakdown(string? Id, long Requests, long InputTokens, long OutputTokens, long CachedInputTokens, long CostNanos)
{
    /// <summary>Spend in USD.</summary>
    public decimal SpendUsd => Nanos.ToUsd(CostNanos);
}

/// <summary>A tenant's traffic at one provider for one model in a period.</summary>
/// <param name="ProviderId">The provider.</param>
/// <param name="Model">The model, or null.</param>
/// <param name="Requests">Requests.</param>
/// <param name="InputTokens">Prompt tokens, cached ones included.</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="CachedInputTokens">Cached prompt tokens.</param>
/// <param name="CostNanos">What it cost, in nano-dollars.</param>
public sealed record ProviderModelUsage(string ProviderId, string? Model, long Requests, long InputTokens, long OutputTokens, long CachedInputTokens, long CostNanos);

/// <summary>One day of the series.</summary>
/// <param name="Day">The UTC day.</param>
/// <param name="Requests">Requests.</param>
/// <param name="CostNanos">Spend in nano-dollars.</param>
public readonly record struct DailyUsage(DateOnly Day, long Requests, long CostNanos)
{
    /// <summary>Spend in USD.</summary>
    public decimal SpendUsd => Nanos.ToUsd(CostNanos);
}
