using Beamline.Accounting.Ledger;
using Beamline.Tenancy.Budgets;

namespace Beamline.Host.Usage;

/// <summary>The budget gate's memory of past spend: the usage ledger's month and day so far for one level.</summary>
internal sealed class LedgerSpendHistory(UsageLedger ledger) : ISpendHistory
{
    public (long MonthNanos, long DayNanos) SpentSoFar(BudgetLevel level, string tenantId, string id, DateTimeOffset now)
    {
        var (team, key) = level switch
        {
            BudgetLevel.Key => ((string?)null, (string?)id),
            BudgetLevel.Team => (id, null),
            _ => (null, null),
        };
        return (ledger.MonthToDate(tenantId, team, key, now), ledger.DayToDate(tenantId, team, key, now));
    }
}
