using System.Text.Json;

namespace Beamline.Gateway.Translation.Answers;

/// <summary>An OpenAI <c>chat.completion</c>, read and written (its first choice).</summary>
internal static class ChatAnswer
{
    public static NeutralAnswer Read(JsonElement root)
    {
        var answer = new NeutralAnswer
        {
            Id = Json.String(root, "id"),
            Model = Json.String(root, "model"),
            Created = root.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds) ? seconds : DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        };
        if (Json.TryGet(root, "error", JsonValueKind.Object, out var error))
        {
            throw new GatewayFormatException(Json.String(error, "message") ?? "the provider answered an error");
        }
        if (!Json.TryGet(root, "choices", JsonValueKind.Array, out var choices))
        {
            throw new GatewayFormatException("a chat completion has no choices");
        }
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            answer.Stop = StopReasons.FromOpenAI(Json.String(choice, "finish_reason"));
            if (Json.TryGet(choice, "message", JsonValueKind.Object, out var message))
            {
                ReadMessage(message, answer);
            }
            break; // one answer: the first choice
        }
        if (Json.TryGet(root, "usage", JsonValueKind.Object, out var usage))
        {
            answer.Usage = TokenUsage.FromOpenAI(usage);
        }
        return answer;
    }

    private static void ReadMessage(JsonElement message, NeutralAnswer answer)
    {
        if (message.TryGetProperty("content", out var content))
        {
            if (content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
            {
                AddText(answer, text);
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (var part in content.EnumerateArray())
                {
                    if (Json.String(part, "text") is { Length: > 0 } partText)
                    {
                        AddText(answer, partText);
                    }
                }
            }
        }
        if (Json.String(message, "refusal") is { Length: > 0 } refusal)
        {
            AddText(answer, refusal);
        }
        if (Json.TryGet(message, "tool_calls", JsonValueKind.Array, out var calls))
        {
            foreach (var call in calls.EnumerateArray())
            {
                Json.TryGet(call, "function", JsonValueKind.Object, out var function);
                var part = new AnswerPart { IsToolCall = true, Id = Json.String(call, "id"), Name = Json.String(function, "name") };
                part.Content.Append(Json.String(function, "arguments"));
                answer.Parts.Add(part);
            }
        }
    }

    private static void AddText(NeutralAnswer answer, string text)
    {
        var part = new AnswerPart();
        part.Content.Append(text);
        answer.Parts.Add(part);
    }

    public static void Write(Utf8JsonWriter writer, NeutralAnswer answer, string? clientModel)
    {
        writer.WriteStartObject();
        writer.WriteString("id", answer.Id ?? "chatcmpl-" + Guid.NewGuid().ToString("N"));
        writer.WriteString("object", "chat.completion");
        writer.WriteNumber("created", answer.Created);
        writer.WriteString("model", clientModel ?? answer.Model ?? string.Empty);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        if (answer.JoinedText() is { } text)
        {
            writer.WriteString("content", text);
        }
        else
        {
            writer.WriteNull("content");
        }
        writer.WriteNull("refusal");
        if (answer.HasToolCalls())
        {
            writer.WriteStartArray("tool_calls");
            foreach (var part in answer.Parts)
            {
                if (!part.IsToolCall)
                {
                    continue;
                }
                writer.WriteStartObject();
                writer.WriteString("id", part.Id ?? "call_" + Guid.NewGuid().ToString("N"));
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", part.Name ?? string.Empty);
                writer.WriteString("arguments", part.Content.Length == 0 ? "{}" : part.Content.ToString());
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", StopReasons.OpenAI(answer.Stop));
        writer.WriteEndObject();
        writer.WriteEndArray();
        answer.Usage.WriteOpenAI(writer);
        writer.WriteEndObject();
    }
}
