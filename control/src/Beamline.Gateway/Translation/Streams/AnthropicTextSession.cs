using System.Buffers;
using System.Text.Json.Nodes;
using Beamline.Pipeline.Providers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// Anthropic Messages events: the text is a text block's <c>text_delta</c>s (and the text its
/// <c>content_block_start</c> may already hold); a run of text ends with its block's
/// <c>content_block_stop</c> (or, in a stream that never closed it, <c>message_delta</c> or
/// <c>message_stop</c>). Text written on its own is a <c>text_delta</c> of the open text block (else the last one).
/// </summary>
internal sealed class AnthropicTextSession : SseTextSession
{
    private int _open = -1;
    private int _last;

    protected override StreamTextEvent Read(string? name, ReadOnlySpan<byte> data)
    {
        var root = ParseObject(data);
        if (root is null)
        {
            return new RawEvent(this, name, data);
        }
        switch (String(root, "type") ?? name)
        {
            case "content_block_start" when root["content_block"] is JsonObject block && String(block, "type") == "text":
                _open = _last = Int(root, "index") ?? _last;
                return String(block, "text") is { Length: > 0 } start
                    ? new TextEvent(name, root, block, "text") { Text = start }
                    : new RawEvent(this, name, data);
            case "content_block_delta" when root["delta"] is JsonObject delta && String(delta, "type") == "text_delta"
                && String(delta, "text") is { Length: > 0 } text:
                return new TextEvent(name, root, delta, "text") { Text = text };
            case "content_block_stop" when _open >= 0 && (Int(root, "index") ?? _open) == _open:
                var closed = _open;
                _open = -1;
                return new RawEvent(this, name, data, closed) { EndsText = true };
            case "message_delta" or "message_stop":
                return new RawEvent(this, name, data, _last) { EndsText = true };
            default:
                return new RawEvent(this, name, data);
        }
    }

    protected override int LastBlock => _open >= 0 ? _open : _last;

    protected override void WriteText(string text, int block, IBufferWriter<byte> output)
        => WriteJsonEvent(output, "content_block_delta", (Index: block, Text: text), static (json, state) =>
        {
            json.WriteStartObject();
            json.WriteString("type", "content_block_delta");
            json.WriteNumber("index", state.Index);
            json.WriteStartObject("delta");
            json.WriteString("type", "text_delta");
            json.WriteString("text", state.Text);
            json.WriteEndObject();
            json.WriteEndObject();
        });
}
