using System.Text;
using System.Text.Json;
using Beamline.Routing.Catalog;

namespace Beamline.Providers.Mock;

/// <summary>
/// Streamed mock answers as the real APIs send them: server-sent events, one per chunk, each a
/// complete <c>data:</c> (and for Anthropic <c>event:</c>) record ending in a blank line.
/// </summary>
internal static class MockStreams
{
    /// <summary>OpenAI <c>chat.completion.chunk</c> events: the role, one per word, the finish, the usage (when asked), <c>[DONE]</c>.</summary>
    public static IEnumerable<byte[]> OpenAI(ProviderDescriptor provider, string reply, MockUsage usage, DateTimeOffset now, bool includeUsage)
    {
        var id = "chatcmpl-mock-" + Guid.NewGuid().ToString("N");
        var created = now.ToUnixTimeSeconds();
        var model = MockAnswers.Model(provider);
        yield return Data(Chunk(id, created, model, role: "assistant", content: string.Empty, finish: null, includeUsage));
        foreach (var word in Words(reply))
        {
            yield return Data(Chunk(id, created, model, role: null, content: word, finish: null, includeUsage));
        }
        yield return Data(Chunk(id, created, model, role: null, content: null, finish: "stop", includeUsage));
        if (includeUsage)
        {
            yield return Data(MockAnswers.Write(writer =>
            {
                writer.WriteStartObject();
                WriteHead(writer, id, created, model);
                writer.WriteStartArray("choices");
                writer.WriteEndArray();
                MockAnswers.WriteOpenAIUsage(writer, usage);
                writer.WriteEndObject();
            }));
        }
        yield return "data: [DONE]\n\n"u8.ToArray();
    }

    /// <summary>Anthropic Messages events: message_start, a text block with a delta per word, message_delta, message_stop.</summary>
    public static IEnumerable<byte[]> Anthropic(ProviderDescriptor provider, string reply, MockUsage usage)
    {
        var id = "msg_mock_" + Guid.NewGuid().ToString("N");
        var model = MockAnswers.Model(provider);
        yield return Event("message_start", MockAnswers.Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message_start");
            writer.WriteStartObject("message");
            writer.WriteString("id", id);
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", model);
            writer.WriteStartArray("content");
            writer.WriteEndArray();
            writer.WriteNull("stop_reason");
            writer.WriteNull("stop_sequence");
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", usage.InputTokens);
            writer.WriteNumber("output_tokens", 1);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }));
        yield return Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""u8.ToArray());
        foreach (var word in Words(reply))
        {
            yield return Event("content_block_delta", MockAnswers.Write(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("type", "content_block_delta");
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("delta");
                writer.WriteString("type", "text_delta");
                writer.WriteString("text", word);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }));
        }
        yield return Event("content_block_stop", """{"type":"content_block_stop","index":0}"""u8.ToArray());
        yield return Event("message_delta", MockAnswers.Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message_delta");
            writer.WriteStartObject("delta");
            writer.WriteString("stop_reason", "end_turn");
            writer.WriteNull("stop_sequence");
            writer.WriteEndObject();
            writer.WriteStartObject("usage");
            writer.WriteNumber("output_tokens", usage.OutputTokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }));
        yield return Event("message_stop", """{"type":"message_stop"}"""u8.ToArray());
    }

    // Words with their following space, so that the deltas concatenate to the reply.
    private static IEnumerable<string> Words(string reply)
    {
        var start = 0;
        for (var i = 0; i < reply.Length; i++)
        {
            if (reply[i] == ' ')
            {
                yield return reply[start..(i + 1)];
                start = i + 1;
            }
        }
        if (start < reply.Length)
        {
            yield return reply[start..];
        }
    }

    private static byte[] Chunk(string id, long created, string model, string? role, string? content, string? finish, bool includeUsage)
        => MockAnswers.Write(writer =>
        {
            writer.WriteStartObject();
            WriteHead(writer, id, created, model);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            if (role is not null)
            {
                writer.WriteString("role", role);
            }
            if (content is not null)
            {
                writer.WriteString("content", content);
            }
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            if (finish is null)
            {
                writer.WriteNull("finish_reason");
            }
            else
            {
                writer.WriteString("finish_reason", finish);
            }
            writer.WriteEndObject();
            writer.WriteEndArray();
            if (includeUsage)
            {
                writer.WriteNull("usage");
            }
            writer.WriteEndObject();
        });

    private static void WriteHead(Utf8JsonWriter writer, string id, long created, string model)
    {
        writer.WriteString("id", id);
        writer.WriteString("object", "chat.completion.chunk");
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
    }

    private static byte[] Data(byte[] json)
    {
        var record = new byte[6 + json.Length + 2];
        "data: "u8.CopyTo(record);
        json.CopyTo(record, 6);
        "\n\n"u8.CopyTo(record.AsSpan(6 + json.Length));
        return record;
    }

    private static byte[] Event(string name, byte[] json)
        => [.. Encoding.UTF8.GetBytes($"event: {name}\n"), .. Data(json)];
}
