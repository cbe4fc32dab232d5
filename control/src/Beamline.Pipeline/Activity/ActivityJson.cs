using System.Buffers;
using System.Text.Json;

namespace Beamline.Pipeline.Activity;

/// <summary>
/// The wire form of an <see cref="ActivityEvent"/>, the same on SSE and NATS: one flat JSON object
/// in snake_case, <c>{seq, time, kind, tenant_id, request_id, trace_id?, stage?, subject?, status?,
/// latency_ms?, cost_usd?, detail?}</c>. <c>time</c> is ISO-8601 in UTC; absent fields (and
/// numbers that are not finite, which JSON cannot carry) are omitted rather than written as null.
/// </summary>
public static class ActivityJson
{
    private static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText Time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText Kind = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText TenantId = JsonEncodedText.Encode("tenant_id");
    private static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("request_id");
    private static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("trace_id");
    private static readonly JsonEncodedText Stage = JsonEncodedText.Encode("stage");
    private static readonly JsonEncodedText Subject = JsonEncodedText.Encode("subject");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText LatencyMs = JsonEncodedText.Encode("latency_ms");
    private static readonly JsonEncodedText CostUsd = JsonEncodedText.Encode("cost_usd");
    private static readonly JsonEncodedText Detail = JsonEncodedText.Encode("detail");

    /// <summary>Writes <paramref name="activity"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, ActivityEvent activity)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(activity);
        writer.WriteStartObject();
        writer.WriteNumber(Seq, activity.Sequence);
        writer.WriteString(Time, activity.Time.UtcDateTime);
        writer.WriteString(Kind, activity.Kind);
        writer.WriteString(TenantId, activity.TenantId);
        writer.WriteString(RequestId, activity.RequestId);
        WriteOptional(writer, TraceId, activity.TraceId);
        WriteOptional(writer, Stage, activity.Stage);
        WriteOptional(writer, Subject, activity.Subject);
        WriteOptional(writer, Status, activity.Status);
        WriteOptional(writer, LatencyMs, activity.LatencyMs);
        WriteOptional(writer, CostUsd, activity.CostUsd);
        WriteOptional(writer, Detail, activity.Detail);
        writer.WriteEndObject();
    }

    /// <summary>Writes <paramref name="activity"/> as one JSON object into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, ActivityEvent activity)
    {
        using var writer = new Utf8JsonWriter(output);
        Write(writer, activity);
    }

    /// <summary>The JSON of <paramref name="activity"/> as UTF-8 bytes.</summary>
    public static byte[] ToUtf8Bytes(ActivityEvent activity)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, activity);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteOptional(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteOptional(Utf8JsonWriter writer, JsonEncodedText name, double? value)
    {
        if (value is { } number && double.IsFinite(number))
        {
            writer.WriteNumber(name, number);
        }
    }
}
