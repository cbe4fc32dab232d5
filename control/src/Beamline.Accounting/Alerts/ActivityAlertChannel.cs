using System.Globalization;
using Beamline.Pipeline.Activity;

namespace Beamline.Accounting.Alerts;

/// <summary>
/// Budget alerts in the activity stream: a <see cref="ActivityKinds.BudgetAlert"/> event of the
/// tenant (<c>request_id</c> is the alert id, <c>subject</c> <c>level:id</c>, <c>status</c> the
/// threshold, <c>cost_usd</c> the spend, <c>detail</c> a sentence).
/// </summary>
public sealed class ActivityAlertChannel(IActivitySink sink) : IBudgetAlertChannel
{
    /// <inheritdoc />
    public string Name => "activity";

    /// <inheritdoc />
    public ValueTask DeliverAsync(BudgetAlert alert, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        sink.Publish(new ActivityEvent
        {
            Kind = ActivityKinds.BudgetAlert,
            Time = alert.Time,
            TenantId = alert.TenantId,
            RequestId = alert.AlertId,
            Subject = $"{alert.Level}:{alert.LevelId}",
            Status = string.Create(CultureInfo.InvariantCulture, $"{alert.ThresholdPercent}%"),
            CostUsd = (double)alert.SpentUsd,
            Detail = string.Create(CultureInfo.InvariantCulture,
                $"{alert.BudgetKind} budget of {alert.Level} '{alert.LevelId}' reached {alert.ThresholdPercent}% ({alert.SpentUsd} of {alert.BudgetUsd} USD) in {alert.Period}"),
        });
        return ValueTask.CompletedTask;
    }
}
