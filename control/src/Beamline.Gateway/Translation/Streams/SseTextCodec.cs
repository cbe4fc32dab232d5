using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// The answer's text in provider streams of the gateway's formats — OpenAI Chat Completions
/// chunks and Anthropic Messages events — for post extensions: each text delta is read out of
/// its event and the event written back around the rewritten text; every other event is passed
/// on as it came.
/// </summary>
/// <remarks>
/// Events are written as <c>event:</c> (when named) and <c>data:</c> lines and a blank line;
/// SSE comments and fields other than <c>event</c> and <c>data</c> are not passed on. An event
/// whose text the post extensions held back is still written, with a shorter or empty text: the
/// stream keeps one event per event the provider sent, and the official SDKs read an empty
/// delta as no text. Only the answer's text is rewritten: the first choice's <c>delta.content</c>
/// (OpenAI) and text blocks (Anthropic); refusals, tool arguments, thinking and other choices
/// are not.
/// </remarks>
public sealed class SseTextCodec : IStreamTextCodec
{
    /// <inheritdoc />
    public IStreamTextSession? Begin(WireFormat format) => format switch
    {
        WireFormat.OpenAIChat => new ChatTextSession(),
        WireFormat.AnthropicMessages => new AnthropicTextSession(),
        _ => null,
    };
}

/// <summary>A stream of server-sent events whose JSON events may carry text (<see cref="SseReader"/> reads them across chunks).</summary>
internal abstract class SseTextSession : IStreamTextSession
{
    private readonly SseReader _sse = new();
    private readonly List<StreamTextEvent> _events = [];
    private readonly SseReader.EventHandler _handle;

    protected SseTextSession() => _handle = Handle;

    public IReadOnlyList<StreamTextEvent> Push(ReadOnlySpan<byte> chunk)
    {
        _events.Clear();
        _sse.Push(chunk, _handle);
        return _events;
    }

    public IReadOnlyList<StreamTextEvent> Complete()
    {
        _events.Clear();
        _sse.Finish(_handle);
        return _events;
    }

    public void WriteText(string text, IBufferWriter<byte> output) => WriteText(text, LastBlock, output);

    /// <summary>The text block the stream's text is in now, or was in last (0 for formats without blocks).</summary>
    protected virtual int LastBlock => 0;

    /// <summary>Writes a text event of <paramref name="block"/> holding <paramref name="text"/>.</summary>
    protected abstract void WriteText(string text, int block, IBufferWriter<byte> output);

    /// <summary>One complete event: its name (or null) and its data.</summary>
    protected abstract StreamTextEvent Read(string? name, ReadOnlySpan<byte> data);

    private void Handle(string? name, ReadOnlySpan<byte> data) => _events.Add(Read(name, data));

    /// <summary>The event's data as a JSON object, or null (not JSON, or not an object: passed on as it came).</summary>
    protected static JsonObject? ParseObject(ReadOnlySpan<byte> data)
    {
        try
        {
            return JsonNode.Parse(data) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    protected static string? String(JsonNode? node, string name)
        => node is JsonObject value && value[name] is JsonValue member && member.GetValueKind() == JsonValueKind.String ? member.GetValue<string>() : null;

    protected static int? Int(JsonNode? node, string name)
        => node is JsonObject value && value[name] is JsonValue member && member.GetValueKind() == JsonValueKind.Number && member.TryGetValue<int>(out var number)
            ? number
            : null;

    /// <summary>Writes an event: <c>event: name</c> when named, a <c>data:</c> line per line of <paramref name="data"/>, a blank line.</summary>
    protected static void WriteEvent(IBufferWriter<byte> output, string? name, ReadOnlySpan<byte> data)
    {
        WriteName(output, name);
        while (true)
        {
            var end = data.IndexOf((byte)'\n');
            output.Write("data: "u8);
            output.Write(end < 0 ? data : data[..end]);
            output.Write("\n"u8);
            if (end < 0)
            {
                break;
            }
            data = data[(end + 1)..];
        }
        output.Write("\n"u8);
    }

    /// <summary>Starts an event whose data is the JSON <paramref name="write"/> writes.</summary>
    protected static void WriteJsonEvent<TState>(IBufferWriter<byte> output, string? name, TState state, Action<Utf8JsonWriter, TState> write)
    {
        WriteName(output, name);
        output.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(output, Json.WriterOptions))
        {
            write(writer, state);
        }
        output.Write("\n\n"u8);
    }

    private static void WriteName(IBufferWriter<byte> output, string? name)
    {
        if (name is null)
        {
            return;
        }
        output.Write("event: "u8);
        var span = output.GetSpan(System.Text.Encoding.UTF8.GetMaxByteCount(name.Length));
        output.Advance(System.Text.Encoding.UTF8.GetBytes(name, span));
        output.Write("\n"u8);
    }

    /// <summary>An event passed on as it came; one that ends the text of <paramref name="block"/> writes what was held back before it.</summary>
    protected sealed class RawEvent(SseTextSession session, string? name, ReadOnlySpan<byte> data, int block = 0) : StreamTextEvent
    {
        private readonly byte[] _data = data.ToArray();

        public override void WriteTo(IBufferWriter<byte> output, string? text)
        {
            if (EndsText && !string.IsNullOrEmpty(text))
            {
                session.WriteText(text, block, output);
            }
            WriteEvent(output, name, _data);
        }
    }

    /// <summary>An event whose text is the string <paramref name="property"/> of <paramref name="holder"/>, inside <paramref name="root"/>.</summary>
    protected sealed class TextEvent(string? name, JsonObject root, JsonObject holder, string property) : StreamTextEvent
    {
        public override void WriteTo(IBufferWriter<byte> output, string? text)
        {
            if (text is not null)
            {
                holder[property] = text;
            }
            WriteJsonEvent(output, name, root, static (writer, root) => root.WriteTo(writer));
        }
    }
}
