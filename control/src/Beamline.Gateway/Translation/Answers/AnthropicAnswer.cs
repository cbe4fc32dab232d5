using System.Text.Json;

namespace Beamline.Gateway.Translation.Answers;

/// <summary>
/// An Anthropic <c>message</c>, read and written: <c>text</c> and <c>tool_use</c> blocks in order
/// (other blocks, such as <c>thinking</c>, have no OpenAI form and are dropped when read).
/// </summary>
internal static class AnthropicAnswer
{
    public static NeutralAnswer Read(JsonElement root)
    {
        if (Json.String(root, "type") == "error")
        {
            Json.TryGet(root, "error", JsonValueKind.Object, out var error);
            throw new GatewayFormatException(Json.String(error, "message") ?? "the provider answered an error");
        }
        var answer = new NeutralAnswer
        {
            Id = Json.String(root, "id"),
            Model = Json.String(root, "model"),
            Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            Stop = StopReasons.FromAnthropic(Json.String(root, "stop_reason")),
        };
        if (!Json.TryGet(root, "content", JsonValueKind.Array, out var content))
        {
            throw new GatewayFormatException("an Anthropic message has no content");
        }
        foreach (var block in content.EnumerateArray())
        {
            switch (Json.String(block, "type"))
            {
                case "text":
                    var text = new AnswerPart();
                    text.Content.Append(Json.String(block, "text"));
                    answer.Parts.Add(text);
                    break;
                case "tool_use":
                    var call = new AnswerPart { IsToolCall = true, Id = Json.String(block, "id"), Name = Json.String(block, "name") };
                    call.Content.Append(block.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object ? input.GetRawText() : "{}");
                    answer.Parts.Add(call);
                    break;
                default:
                    break;
            }
        }
        if (Json.TryGet(root, "usage", JsonValueKind.Object, out var usage))
        {
            answer.Usage = TokenUsage.FromAnthropic(usage);
        }
        return answer;
    }

    public static void Write(Utf8JsonWriter writer, NeutralAnswer answer, string? clientModel)
    {
        writer.WriteStartObject();
        writer.WriteString("id", answer.Id ?? "msg_" + Guid.NewGuid().ToString("N"));
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", clientModel ?? answer.Model ?? string.Empty);
        writer.WriteStartArray("content");
        foreach (var part in answer.Parts)
        {
            writer.WriteStartObject();
            if (part.IsToolCall)
            {
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", part.Id ?? "toolu_" + Guid.NewGuid().ToString("N"));
                writer.WriteString("name", part.Name ?? string.Empty);
                writer.WritePropertyName("input");
                Json.WriteArgumentsAsObject(writer, part.Content.ToString());
            }
            else
            {
                writer.WriteString("type", "text");
                writer.WriteString("text", part.Content.ToString());
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("stop_reason", StopReasons.Anthropic(answer.Stop == StopReason.None ? StopReason.Stop : answer.Stop));
        writer.WriteNull("stop_sequence");
        answer.Usage.WriteAnthropic(writer);
        writer.WriteEndObject();
    }
}
