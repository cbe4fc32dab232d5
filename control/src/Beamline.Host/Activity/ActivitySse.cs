using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Beamline.Pipeline.Activity;

namespace Beamline.Host.Activity;

/// <summary>
/// The activity stream's Server-Sent Events framing: <c>id: &lt;seq&gt;\nevent: &lt;kind&gt;\ndata:
/// &lt;json&gt;\n\n</c> per event, <c>: text\n\n</c> comments (the initial <c>connected</c> and
/// the <c>ping</c> heartbeat) and <c>event: dropped\ndata: {"dropped":N}\n\n</c> when the reader
/// lost events. The JSON is one line (<see cref="ActivityJson"/> escapes every newline in a string).
/// </summary>
internal static class ActivitySse
{
    /// <summary>The event name of a drop notice.</summary>
    public const string DroppedEvent = "dropped";

    /// <summary>Writes the comment <c>: <paramref name="text"/></c>.</summary>
    public static void WriteComment(IBufferWriter<byte> output, ReadOnlySpan<byte> text)
    {
        output.Write(": "u8);
        output.Write(text);
        output.Write("\n\n"u8);
    }

    /// <summary>
    /// Writes <paramref name="activity"/>. <paramref name="json"/> is a writer reused across events
    /// (reset onto <paramref name="output"/> here). A kind that would break the framing (a line
    /// break) is left out, so the event arrives as a plain <c>message</c>.
    /// </summary>
    public static void WriteEvent(IBufferWriter<byte> output, Utf8JsonWriter json, ActivityEvent activity)
    {
        output.Write("id: "u8);
        WriteNumber(output, activity.Sequence);
        if (activity.Kind.AsSpan().IndexOfAny('\r', '\n') < 0)
        {
            output.Write("\nevent: "u8);
            WriteUtf8(output, activity.Kind);
        }
        output.Write("\ndata: "u8);
        json.Reset(output);
        ActivityJson.Write(json, activity);
        json.Flush();
        output.Write("\n\n"u8);
    }

    /// <summary>Writes the notice that <paramref name="dropped"/> events were lost since the last one.</summary>
    public static void WriteDropped(IBufferWriter<byte> output, long dropped)
    {
        output.Write("event: dropped\ndata: {\"dropped\":"u8);
        WriteNumber(output, dropped);
        output.Write("}\n\n"u8);
    }

    private static void WriteNumber(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
    }

    private static void WriteUtf8(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
