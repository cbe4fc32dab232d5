using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Pipeline.Providers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// OpenAI <c>chat.completion.chunk</c> events: the text is the first choice's <c>delta.content</c>;
/// it ends with that choice's <c>finish_reason</c> (held-back text goes into that chunk's delta)
/// or with <c>[DONE]</c>; a run of it ends before a <c>tool_calls</c> delta, so that text and
/// calls keep their order. Text written on its own is a chunk with the stream's id, created and model.
/// </summary>
internal sealed class ChatTextSession : SseTextSession
{
    private string _id = string.Empty;
    private long _created;
    private string _model = string.Empty;
    private string? _fingerprint;

    protected override StreamTextEvent Read(string? name, ReadOnlySpan<byte> data)
    {
        if (data.Trim((byte)' ').SequenceEqual("[DONE]"u8))
        {
            return new RawEvent(this, name, data) { EndsText = true };
        }
        var root = ParseObject(data);
        if (root?["choices"] is not JsonArray choices)
        {
            return new RawEvent(this, name, data); // usage, error, or not a chunk
        }
        _id = String(root, "id") ?? _id;
        _model = String(root, "model") ?? _model;
        _fingerprint = String(root, "system_fingerprint") ?? _fingerprint;
        if (root["created"] is JsonValue created && created.GetValueKind() == JsonValueKind.Number && created.TryGetValue<long>(out var seconds))
        {
            _created = seconds;
        }
        JsonObject? first = null;
        foreach (var choice in choices)
        {
            if (choice is JsonObject candidate && (Int(candidate, "index") ?? 0) == 0)
            {
                first = candidate;
                break;
            }
        }
        var ends = String(first, "finish_reason") is not null || first?["delta"]?["tool_calls"] is JsonArray;
        if (first?["delta"] is JsonObject delta && String(delta, "content") is { Length: > 0 } content)
        {
            return new TextEvent(name, root, delta, "content") { Text = content, EndsText = ends };
        }
        return new RawEvent(this, name, data) { EndsText = ends };
    }

    protected override void WriteText(string text, int block, IBufferWriter<byte> output)
        => WriteJsonEvent(output, null, (Session: this, Text: text), static (json, state) =>
        {
            var session = state.Session;
            json.WriteStartObject();
            json.WriteString("id", session._id);
            json.WriteString("object", "chat.completion.chunk");
            json.WriteNumber("created", session._created);
            json.WriteString("model", session._model);
            if (session._fingerprint is not null)
            {
                json.WriteString("system_fingerprint", session._fingerprint);
            }
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            json.WriteStartObject("delta");
            json.WriteString("content", state.Text);
            json.WriteEndObject();
            json.WriteNull("logprobs");
            json.WriteNull("finish_reason");
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        });
}
