using System.Globalization;

namespace Beamline.Tenancy.Budgets;

/// <summary>Why the <see cref="BudgetGate"/> refused: which level, which limit (CP1 <c>quota_exceeded</c>, <c>details.reason: "budget"</c>).</summary>
public readonly struct BudgetDenial
{
    internal BudgetDenial(BudgetLevel level, string tenantId, string id, in BudgetShortfall shortfall)
    {
        Level = level;
        TenantId = tenantId;
        Id = id;
        Limit = shortfall.Limit;
        LimitValue = shortfall.LimitValue;
        Used = shortfall.Used;
        RetryAfterSeconds = shortfall.RetryAfterSeconds;
    }

    /// <summary>The level that reached its limit.</summary>
    public BudgetLevel Level { get; }

    /// <summary>The tenant of that level.</summary>
    public string TenantId { get; }

    /// <summary>The id of that level: the key id, the team id or the tenant id.</summary>
    public string Id { get; }

    /// <summary>The limit reached.</summary>
    public BudgetLimit Limit { get; }

    /// <summary>Its value at that level: nano-dollars for a budget, tokens for tokens per minute.</summary>
    public long LimitValue { get; }

    /// <summary>What the level had committed: spent plus reserved (nano-dollars), or tokens in the minute plus reserved.</summary>
    public long Used { get; }

    /// <summary>
    /// Seconds until a request could be admitted: to the end of the UTC day or month for a budget
    /// (a budget is not raised by waiting less); for tokens per minute, until enough of the minute
    /// has slid out (1 when only calls still in flight hold the tokens).
    /// </summary>
    public int RetryAfterSeconds { get; }

    /// <summary>The limit's name in tenancy's limits: <c>monthly_budget_usd</c>, <c>daily_budget_usd</c> or <c>tokens_per_minute</c>.</summary>
    public string LimitName => BudgetNames.Of(Limit);

    /// <summary>For the client: <c>team 't1' of tenant 'tenant_a' has reached its daily budget of $5.00</c>.</summary>
    public string Message => Limit switch
    {
        BudgetLimit.MonthlyBudget => string.Create(CultureInfo.InvariantCulture, $"{Who()} has reached its monthly budget of ${Dollars(LimitValue)}"),
        BudgetLimit.DailyBudget => string.Create(CultureInfo.InvariantCulture, $"{Who()} has reached its daily budget of ${Dollars(LimitValue)}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Who()} has reached its limit of {LimitValue} tokens per minute"),
    };

    /// <inheritdoc />
    public override string ToString() => Message;

    private static string Dollars(long nanos) => (nanos / 1_000_000_000m).ToString("0.00########", CultureInfo.InvariantCulture);

    private string Who() => Level switch
    {
        BudgetLevel.Key => $"API key '{Id}'",
        BudgetLevel.Team => $"team '{Id}' of tenant '{TenantId}'",
        _ => $"tenant '{Id}'",
    };
}
