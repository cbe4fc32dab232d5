using System.Buffers;
using System.Text.Json;
using Beamline.Pipeline;

namespace Beamline.Costs.Streams;

/// <summary>The events that end a stream early, in its own format, saying why (<c>beamline_stop</c>).</summary>
internal sealed partial class StreamMeter
{
    /// <inheritdoc />
    public ReadOnlyMemory<byte> End(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        // What was held back is an event cut short: it is not passed on.
        _heldLength = 0;
        var buffer = new ArrayBufferWriter<byte>(512);
        switch (_format)
        {
            case WireFormat.OpenAIChat:
                EndChat(buffer, reason);
                break;
            case WireFormat.AnthropicMessages:
                EndAnthropic(buffer, reason);
                break;
            case WireFormat.OpenAIResponses:
                EndResponses(buffer, reason);
                break;
            default:
                return ReadOnlyMemory<byte>.Empty;
        }
        return buffer.WrittenMemory;
    }

    // A last chunk with finish_reason "length", the usage when the reader downstream expects it, [DONE].
    private void EndChat(ArrayBufferWriter<byte> buffer, string reason)
    {
        var id = _id ?? "chatcmpl-beamline-" + Guid.CreateVersion7().ToString("N");
        var created = _created ?? _time.GetUtcNow().ToUnixTimeSeconds();
        Data(buffer, null, writer =>
        {
            ChatHead(writer, id, created);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            writer.WriteEndObject();
            writer.WriteString("finish_reason", "length");
            writer.WriteEndObject();
            writer.WriteEndArray();
            Stop(writer, reason);
        });
        if (_usageWanted)
        {
            var usage = Usage;
            Data(buffer, null, writer =>
            {
                ChatHead(writer, id, created);
                writer.WriteStartArray("choices");
                writer.WriteEndArray();
                writer.WriteStartObject("usage");
                writer.WriteNumber("prompt_tokens", usage.InputTokens);
                writer.WriteNumber("completion_tokens", usage.OutputTokens);
                writer.WriteNumber("total_tokens", usage.Total);
                writer.WriteEndObject();
            });
        }
        buffer.Write("data: [DONE]\n\n"u8);
    }

    private void ChatHead(Utf8JsonWriter writer, string id, long created)
    {
        writer.WriteString("id", id);
        writer.WriteString("object", "chat.completion.chunk");
        writer.WriteNumber("created", created);
        writer.WriteString("model", _model ?? _quotedModel ?? string.Empty);
    }

    // The open content block closed, message_delta with stop_reason "max_tokens" and the output so far, message_stop.
    private void EndAnthropic(ArrayBufferWriter<byte> buffer, string reason)
    {
        if (_openBlock is { } index)
        {
            Data(buffer, "content_block_stop", writer =>
            {
                writer.WriteString("type", "content_block_stop");
                writer.WriteNumber("index", index);
            });
            _openBlock = null;
        }
        var output = OutputTokens;
        Data(buffer, "message_delta", writer =>
        {
            writer.WriteString("type", "message_delta");
            writer.WriteStartObject("delta");
            writer.WriteString("stop_reason", "max_tokens");
            writer.WriteNull("stop_sequence");
            writer.WriteEndObject();
            writer.WriteStartObject("usage");
            writer.WriteNumber("output_tokens", output);
            writer.WriteEndObject();
            Stop(writer, reason);
        });
        Data(buffer, "message_stop", static writer => writer.WriteString("type", "message_stop"));
    }

    // response.incomplete with incomplete_details.reason "max_output_tokens".
    private void EndResponses(ArrayBufferWriter<byte> buffer, string reason)
    {
        var usage = Usage;
        var id = _id ?? "resp_beamline_" + Guid.CreateVersion7().ToString("N");
        var created = _created ?? _time.GetUtcNow().ToUnixTimeSeconds();
        Data(buffer, "response.incomplete", writer =>
        {
            writer.WriteString("type", "response.incomplete");
            writer.WriteStartObject("response");
            writer.WriteString("id", id);
            writer.WriteString("object", "response");
            writer.WriteNumber("created_at", created);
            writer.WriteString("status", "incomplete");
            writer.WriteString("model", _model ?? _quotedModel ?? string.Empty);
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", "max_output_tokens");
            writer.WriteEndObject();
            writer.WriteStartArray("output");
            writer.WriteEndArray();
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", usage.InputTokens);
            writer.WriteNumber("output_tokens", usage.OutputTokens);
            writer.WriteNumber("total_tokens", usage.Total);
            writer.WriteEndObject();
            writer.WriteEndObject();
            Stop(writer, reason);
        });
    }

    private static void Stop(Utf8JsonWriter writer, string reason)
    {
        writer.WriteStartObject("beamline_stop");
        writer.WriteString("reason", reason);
        writer.WriteEndObject();
    }

    // One event: "event: name" (when named), "data: {…}", a blank line.
    private static void Data(ArrayBufferWriter<byte> buffer, string? name, Action<Utf8JsonWriter> write)
    {
        if (name is not null)
        {
            buffer.Write("event: "u8);
            buffer.Write(System.Text.Encoding.UTF8.GetBytes(name));
            buffer.Write("\n"u8);
        }
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
    }
}
