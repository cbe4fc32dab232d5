using System.Buffers;
using System.Text.Json;

namespace Beamline.Accounting.Alerts;

/// <summary>
/// The JSON of a budget alert, the same on NATS, webhooks and in docs/usage.md:
/// <c>{"type":"budget.threshold_crossed","alert_id","tenant_id","level","level_id","budget_kind","period",
/// "threshold_percent","spent_usd","budget_usd","time"}</c>. Nothing secret is in it.
/// </summary>
public static class BudgetAlertJson
{
    /// <summary>The <c>type</c> of every alert.</summary>
    public const string EventType = "budget.threshold_crossed";

    /// <summary>The alert as UTF-8 JSON.</summary>
    public static byte[] ToUtf8Bytes(BudgetAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var buffer = new ArrayBufferWriter<byte>(320);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", EventType);
            writer.WriteString("alert_id", alert.AlertId);
            writer.WriteString("tenant_id", alert.TenantId);
            writer.WriteString("level", alert.Level);
            writer.WriteString("level_id", alert.LevelId);
            writer.WriteString("budget_kind", alert.BudgetKind);
            writer.WriteString("period", alert.Period);
            writer.WriteNumber("threshold_percent", alert.ThresholdPercent);
            writer.WriteNumber("spent_usd", alert.SpentUsd);
            writer.WriteNumber("budget_usd", alert.BudgetUsd);
            writer.WriteString("time", alert.Time.UtcDateTime);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
