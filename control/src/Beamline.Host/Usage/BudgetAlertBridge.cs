using Beamline.Accounting.Alerts;
using Beamline.Pipeline.Costs;
using Beamline.Tenancy.Budgets;

namespace Beamline.Host.Usage;

/// <summary>
/// The budget gate's threshold crossings, delivered as budget alerts (NATS, webhooks, activity),
/// each once per threshold per period: the alerts remember what fired across restarts.
/// </summary>
internal sealed class BudgetAlertBridge(BudgetAlerts alerts, TimeProvider time) : IBudgetAlertSink
{
    public void OnThresholdCrossed(BudgetThresholdCrossed crossed)
    {
        ArgumentNullException.ThrowIfNull(crossed);
        alerts.Raise(new BudgetAlert(crossed.TenantId, BudgetNames.Of(crossed.Level), crossed.Id, BudgetNames.Of(crossed.Kind), crossed.Period,
            crossed.ThresholdPercent, Nanos.ToUsd(crossed.SpentNanos), Nanos.ToUsd(crossed.BudgetNanos), time.GetUtcNow()));
    }
}
