using System.Text.Json;

namespace Beamline.Gateway.Translation.Answers;

/// <summary>
/// An OpenAI Responses <c>response</c> object: the text as one <c>message</c> item with
/// <c>output_text</c> parts, each tool call a <c>function_call</c> item, the usage in the
/// Responses names; an answer cut by its token limit is <c>incomplete</c> (<c>max_output_tokens</c>).
/// </summary>
internal static class ResponsesAnswer
{
    /// <summary>The response id of an upstream answer id.</summary>
    public static string ResponseId(string? upstreamId) => "resp_" + (upstreamId ?? Guid.NewGuid().ToString("N"));

    /// <summary>The message item id of a response.</summary>
    public static string MessageId(string responseId, int index) => "msg_" + responseId[5..] + (index == 0 ? "" : "_" + index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The item id of a function call.</summary>
    public static string FunctionCallId(string? callId) => "fc_" + (callId ?? Guid.NewGuid().ToString("N"));

    public static void Write(Utf8JsonWriter writer, NeutralAnswer answer, string? clientModel)
    {
        var id = ResponseId(answer.Id);
        var status = answer.Stop == StopReason.Length ? "incomplete" : "completed";
        WriteObject(writer, id, answer.Created, clientModel ?? answer.Model, status, answer, includeUsage: true);
    }

    /// <summary>Writes a response object; with a null <paramref name="answer"/>, one with no output yet.</summary>
    public static void WriteObject(Utf8JsonWriter writer, string id, long createdAt, string? model, string status, NeutralAnswer? answer, bool includeUsage)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("object", "response");
        writer.WriteNumber("created_at", createdAt);
        writer.WriteString("status", status);
        writer.WriteNull("error");
        if (status == "incomplete")
        {
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", answer?.Stop == StopReason.ContentFilter ? "content_filter" : "max_output_tokens");
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("incomplete_details");
        }
        writer.WriteNull("instructions");
        writer.WriteNull("max_output_tokens");
        writer.WriteString("model", model ?? string.Empty);
        writer.WriteStartArray("output");
        if (answer is not null)
        {
            var messages = 0;
            foreach (var part in answer.Parts)
            {
                if (part.IsToolCall)
                {
                    WriteFunctionCall(writer, part, "completed");
                }
                else
                {
                    WriteMessage(writer, MessageId(id, messages++), part.Content.ToString(), "completed");
                }
            }
        }
        writer.WriteEndArray();
        writer.WriteBoolean("parallel_tool_calls", true);
        writer.WriteNull("previous_response_id");
        writer.WriteNull("temperature");
        writer.WriteString("tool_choice", "auto");
        writer.WriteStartArray("tools");
        writer.WriteEndArray();
        writer.WriteNull("top_p");
        writer.WriteString("truncation", "disabled");
        if (includeUsage && answer is not null)
        {
            answer.Usage.WriteResponses(writer);
        }
        else
        {
            writer.WriteNull("usage");
        }
        writer.WriteEndObject();
    }

    public static void WriteMessage(Utf8JsonWriter writer, string id, string? text, string status)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("type", "message");
        writer.WriteString("status", status);
        writer.WriteString("role", "assistant");
        writer.WriteStartArray("content");
        if (text is not null)
        {
            WriteOutputText(writer, text);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteOutputText(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "output_text");
        writer.WriteString("text", text);
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteFunctionCall(Utf8JsonWriter writer, AnswerPart part, string status)
    {
        writer.WriteStartObject();
        writer.WriteString("id", FunctionCallId(part.Id));
        writer.WriteString("type", "function_call");
        writer.WriteString("status", status);
        writer.WriteString("arguments", part.Content.ToString());
        writer.WriteString("call_id", part.Id ?? string.Empty);
        writer.WriteString("name", part.Name ?? string.Empty);
        writer.WriteEndObject();
    }
}
