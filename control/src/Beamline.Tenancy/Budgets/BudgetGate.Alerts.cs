using Microsoft.Extensions.Logging;

namespace Beamline.Tenancy.Budgets;

public sealed partial class BudgetGate
{
    // A threshold is crossed by the settle that takes spend from below it to at or above it. Spend
    // only grows within a period, so that happens once per budget; the fired set also keeps a
    // budget changed mid-period from raising the same threshold again.
    private void RaiseCrossings(BudgetLevels levels, BudgetClock now, ReadOnlySpan<BudgetSpendChange> changes)
    {
        for (var i = 0; i < changes.Length; i++)
        {
            var charge = levels.Charges[i];
            var change = changes[i];
            if (charge.Limits.MonthlyNanos != BudgetLimits.Unlimited)
            {
                RaiseCrossings(charge.Counter.Key, BudgetKind.Monthly, now, charge.Limits.MonthlyNanos, change.MonthBefore, change.MonthAfter);
            }
            if (charge.Limits.DailyNanos != BudgetLimits.Unlimited)
            {
                RaiseCrossings(charge.Counter.Key, BudgetKind.Daily, now, charge.Limits.DailyNanos, change.DayBefore, change.DayAfter);
            }
        }
    }

    private void RaiseCrossings(BudgetCounterKey key, BudgetKind kind, BudgetClock now, long budget, long before, long after)
    {
        foreach (var percent in _thresholds)
        {
            var threshold = (long)Int128.Min((Int128)budget * percent / 100, long.MaxValue);
            if (before >= threshold)
            {
                continue;
            }
            if (after < threshold)
            {
                return; // ascending: the higher ones are not reached either
            }
            var period = kind == BudgetKind.Monthly ? now.Month : now.Day;
            if (_fired.TryAdd(new AlertKey(key, kind, period, percent), 0))
            {
                ForgetPastPeriods(now);
                Raise(new BudgetThresholdCrossed(key.TenantId, key.Level, key.Id, kind,
                    kind == BudgetKind.Monthly ? BudgetClock.MonthName(period) : BudgetClock.DayName(period), percent, after, budget));
            }
        }
    }

    private void Raise(BudgetThresholdCrossed crossed)
    {
        try
        {
            _alerts.OnThresholdCrossed(crossed);
        }
#pragma warning disable CA1031 // an alert sink's failure must not fail the request whose spend it reports
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogAlertSinkFailed(error, BudgetNames.Of(crossed.Level), crossed.Id, crossed.ThresholdPercent);
        }
    }

    // What fired in a past day or month can never fire again: forget it, once a day.
    private void ForgetPastPeriods(BudgetClock now)
    {
        if (Interlocked.Exchange(ref _prunedDay, now.Day) == now.Day)
        {
            return;
        }
        foreach (var (fired, _) in _fired)
        {
            if (fired.Period < (fired.Kind == BudgetKind.Monthly ? now.Month : now.Day))
            {
                _fired.TryRemove(fired, out _);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "The budget alert sink failed on the {Percent} % threshold of {Level} '{Id}'.")]
    private partial void LogAlertSinkFailed(Exception error, string level, string id, int percent);

    /// <summary>One threshold of one budget in one period.</summary>
    private readonly record struct AlertKey(BudgetCounterKey Counter, BudgetKind Kind, int Period, int Percent);
}
