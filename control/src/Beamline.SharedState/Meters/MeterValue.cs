using System.Buffers;
using System.Text.Json;

namespace Beamline.SharedState.Meters;

/// <summary>What a meter counts in its settled part.</summary>
internal enum MeterKind
{
    /// <summary>Spend per UTC month (<c>p1</c>, <c>v1</c>) and per UTC day (<c>p2</c>, <c>v2</c>).</summary>
    Spend,

    /// <summary>A sliding minute: this minute (<c>p1</c>, <c>v1</c>) and the one before it (<c>v2</c>).</summary>
    Window,

    /// <summary>Nothing settled: only what is held now (requests in flight).</summary>
    Gauge,
}

/// <summary>
/// One meter's KV value: the settled usage of its periods and, per control plane, the allowance
/// it holds (<c>h</c>: instance → [held, unix ms of its last write]). JSON, so that an operator can
/// read it with <c>nats kv get</c>.
/// </summary>
internal sealed class MeterValue
{
    public long P1 { get; set; }

    public long V1 { get; set; }

    public long P2 { get; set; }

    public long V2 { get; set; }

    public Dictionary<string, (long Held, long At)> Holders { get; } = new(StringComparer.Ordinal);

    public MeterValue Clone()
    {
        var copy = new MeterValue { P1 = P1, V1 = V1, P2 = P2, V2 = V2 };
        foreach (var (id, holder) in Holders)
        {
            copy.Holders[id] = holder;
        }
        return copy;
    }

    /// <summary>Moves the periods on to <paramref name="now"/>: a newer month, day or minute starts at zero.</summary>
    public void Roll(MeterKind kind, in MeterClock now)
    {
        switch (kind)
        {
            case MeterKind.Spend:
                if (now.Month > P1)
                {
                    P1 = now.Month;
                    V1 = 0;
                }
                if (now.Day > P2)
                {
                    P2 = now.Day;
                    V2 = 0;
                }
                break;
            case MeterKind.Window:
                var minute = now.Second / 60;
                if (minute > P1)
                {
                    V2 = minute == P1 + 1 ? V1 : 0;
                    V1 = 0;
                    P1 = minute;
                }
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// The settled usage counted against limit <paramref name="index"/> (0 or 1) now. A window
    /// weighs the previous minute by the part of it still inside the sliding minute.
    /// </summary>
    public long Settled(MeterKind kind, int index, in MeterClock now) => kind switch
    {
        MeterKind.Spend => index == 0 ? V1 : V2,
        MeterKind.Window => index == 0 ? V1 + V2 * (60 - now.Second % 60) / 60 : 0,
        _ => 0,
    };

    /// <summary>Adds settled usage to the current periods (never below zero).</summary>
    public void AddSettled(MeterKind kind, long amount)
    {
        if (kind == MeterKind.Gauge || amount == 0)
        {
            return;
        }
        V1 = Math.Max(0, Sum(V1, amount));
        if (kind == MeterKind.Spend)
        {
            V2 = Math.Max(0, Sum(V2, amount));
        }
    }

    /// <summary>What the other control planes hold; holders silent for <paramref name="timeoutMs"/> are dropped (they died).</summary>
    public long HeldByOthers(string self, long nowMs, long timeoutMs)
    {
        long held = 0;
        List<string>? stale = null;
        foreach (var (id, holder) in Holders)
        {
            if (string.Equals(id, self, StringComparison.Ordinal))
            {
                continue;
            }
            if (nowMs - holder.At > timeoutMs)
            {
                (stale ??= []).Add(id);
                continue;
            }
            held = Sum(held, holder.Held);
        }
        foreach (var id in stale ?? [])
        {
            Holders.Remove(id);
        }
        return held;
    }

    public static long Sum(long a, long b) => b > 0 && a > long.MaxValue - b ? long.MaxValue : a + b;

    public byte[] Encode()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("p1", P1);
            writer.WriteNumber("v1", V1);
            writer.WriteNumber("p2", P2);
            writer.WriteNumber("v2", V2);
            writer.WriteStartObject("h");
            foreach (var (id, holder) in Holders)
            {
                writer.WriteStartArray(id);
                writer.WriteNumberValue(holder.Held);
                writer.WriteNumberValue(holder.At);
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static MeterValue Decode(ReadOnlySpan<byte> json)
    {
        var value = new MeterValue();
        if (json.IsEmpty)
        {
            return value;
        }
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        value.P1 = Read(root, "p1");
        value.V1 = Read(root, "v1");
        value.P2 = Read(root, "p2");
        value.V2 = Read(root, "v2");
        if (root.TryGetProperty("h", out var holders) && holders.ValueKind == JsonValueKind.Object)
        {
            foreach (var holder in holders.EnumerateObject())
            {
                if (holder.Value.ValueKind == JsonValueKind.Array && holder.Value.GetArrayLength() == 2)
                {
                    value.Holders[holder.Name] = (holder.Value[0].GetInt64(), holder.Value[1].GetInt64());
                }
            }
        }
        return value;
    }

    private static long Read(JsonElement root, string name)
        => root.TryGetProperty(name, out var element) && element.TryGetInt64(out var number) ? number : 0;
}

/// <summary>The clock as meters read it.</summary>
/// <param name="Month">Months since year 0 (as the budget clock counts them).</param>
/// <param name="Day">Days since 0001-01-01.</param>
/// <param name="Second">Seconds since 0001-01-01.</param>
/// <param name="UnixMs">Unix milliseconds (holders' last writes).</param>
internal readonly record struct MeterClock(int Month, int Day, long Second, long UnixMs)
{
    public static MeterClock From(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new MeterClock(utc.Year * 12 + utc.Month - 1, (int)(utc.Ticks / TimeSpan.TicksPerDay), utc.Ticks / TimeSpan.TicksPerSecond,
            now.ToUnixTimeMilliseconds());
    }
}

/// <summary>A meter's limits: the first and second (spend: month and day), <see cref="Unlimited"/> when unset.</summary>
internal readonly record struct MeterLimits(long First, long Second)
{
    public const long Unlimited = long.MaxValue;

    public bool Any => First != Unlimited || Second != Unlimited;

    public long Smallest => Math.Min(First, Second);

    public long this[int index] => index == 0 ? First : Second;
}

/// <summary>Why a meter refused: the limit (0 or 1) and what was committed against it, or NATS unavailable.</summary>
internal readonly record struct MeterRefusal(int Index, long Used, bool Unavailable);
