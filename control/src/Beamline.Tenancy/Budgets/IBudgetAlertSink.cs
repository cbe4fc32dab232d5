namespace Beamline.Tenancy.Budgets;

/// <summary>
/// Receives budget threshold crossings from the <see cref="BudgetGate"/> (which detects them) and
/// delivers them (webhooks, NATS, logs: another component's concern).
/// </summary>
/// <remarks>
/// Called on the request path, after a call's spend was settled: queue the event and return, never
/// block. An exception is logged by the gate and otherwise ignored. The gate raises each crossing
/// once per (level, id, kind, period, threshold) in its process; remembering what already fired
/// across restarts (so that a restart mid-month does not raise 50 % again) belongs to the sink.
/// Seeded spend (<see cref="BudgetGate.Seed"/>) raises nothing by itself.
/// </remarks>
public interface IBudgetAlertSink
{
    /// <summary>A level's settled spend for a period reached a threshold.</summary>
    void OnThresholdCrossed(BudgetThresholdCrossed crossed);
}

/// <summary>A level's settled spend for a period reached a threshold of its budget.</summary>
/// <param name="TenantId">The tenant of the level.</param>
/// <param name="Level">The level.</param>
/// <param name="Id">The level's id (key id, team id or tenant id).</param>
/// <param name="Kind">Which budget: monthly or daily.</param>
/// <param name="Period">The period: <c>2026-11</c> for a month, <c>2026-11-30</c> for a day (UTC).</param>
/// <param name="ThresholdPercent">The threshold reached, in percent of the budget (e.g. 80).</param>
/// <param name="SpentNanos">The period's settled spend after the call that crossed it, nano-dollars.</param>
/// <param name="BudgetNanos">The budget, nano-dollars.</param>
public sealed record BudgetThresholdCrossed(
    string TenantId, BudgetLevel Level, string Id, BudgetKind Kind, string Period, int ThresholdPercent, long SpentNanos, long BudgetNanos);

/// <summary>Drops every crossing (the default until an alert sink is registered).</summary>
public sealed class NullBudgetAlertSink : IBudgetAlertSink
{
    /// <summary>The one instance.</summary>
    public static NullBudgetAlertSink Instance { get; } = new();

    /// <inheritdoc />
    public void OnThresholdCrossed(BudgetThresholdCrossed crossed)
    {
    }
}
