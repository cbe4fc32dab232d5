namespace Beamline.Tenancy.Budgets;

/// <summary>
/// What a tenant, team or key has already spent this month and today, from the record of past
/// usage (the usage ledger). The <see cref="BudgetGate"/> asks it once per level per process, when
/// the level first has a budget to enforce: at the first request after start, or after a budget
/// was set mid-month (so the spend before it is not handed out again).
/// </summary>
public interface ISpendHistory
{
    /// <summary>The month's and the day's spend (UTC periods of <paramref name="now"/>) of one level, in nano-dollars.</summary>
    (long MonthNanos, long DayNanos) SpentSoFar(BudgetLevel level, string tenantId, string id, DateTimeOffset now);
}
