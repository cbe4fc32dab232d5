using System.Globalization;
using System.Text.Json;
using Beamline.Audit;

namespace Beamline.Host.Audit;

/// <summary>An audit page as JSON: <c>{"ok":true,"entries":[…],"next_after":N|null}</c>.</summary>
internal static class AuditJson
{
    public static void WritePage(Utf8JsonWriter writer, AuditPage page)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteStartArray("entries");
        foreach (var entry in page.Entries)
        {
            WriteEntry(writer, entry);
        }
        writer.WriteEndArray();
        if (page.NextAfter is { } next)
        {
            writer.WriteNumber("next_after", next);
        }
        else
        {
            writer.WriteNull("next_after");
        }
        writer.WriteEndObject();
    }

    /// <summary>Every field, nulls included, so that a reader can recompute the hash (docs/audit.md).</summary>
    public static void WriteEntry(Utf8JsonWriter writer, AuditEntry entry)
    {
        writer.WriteStartObject();
        writer.WriteNumber("seq", entry.Seq);
        writer.WriteString("time", entry.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        writer.WriteString("kind", entry.Kind);
        writer.WriteString("tenant_id", entry.TenantId);
        writer.WriteString("key_id", entry.KeyId);
        writer.WriteString("request_id", entry.RequestId);
        writer.WriteString("provider_id", entry.ProviderId);
        writer.WriteString("policy_id", entry.PolicyId);
        writer.WriteString("status", entry.Status);
        writer.WriteNumber("cost_nanos", entry.CostNanos);
        writer.WriteNumber("input_tokens", entry.InputTokens);
        writer.WriteNumber("output_tokens", entry.OutputTokens);
        writer.WriteString("request_sha256", entry.RequestSha256);
        writer.WriteString("response_sha256", entry.ResponseSha256);
        writer.WriteString("action", entry.Action);
        writer.WriteString("actor", entry.Actor);
        writer.WriteString("prev_hash", entry.PrevHash);
        writer.WriteString("hash", entry.Hash);
        writer.WriteEndObject();
    }
}
