using System.Text.Json;

namespace Beamline.Gateway.Translation.Requests;

/// <summary>
/// An OpenAI Responses request as a Chat Completions request: <c>instructions</c> as the first
/// system message; <c>input</c> as one user message (a string) or its items as messages
/// (<c>input_text</c>/<c>output_text</c> parts as text, <c>input_image</c> as <c>image_url</c>,
/// consecutive <c>function_call</c> items as one assistant message's <c>tool_calls</c>,
/// <c>function_call_output</c> as <c>tool</c> messages); function <c>tools</c> and
/// <c>tool_choice</c> in their Chat shape; <c>max_output_tokens</c> as <c>max_tokens</c>;
/// <c>text.format</c> as <c>response_format</c>; <c>stream</c> with <c>stream_options.include_usage</c>.
/// Dropped: built-in tools (web and file search, computer use), <c>reasoning</c> items and
/// settings, <c>store</c>, <c>include</c>, <c>truncation</c>, <c>metadata</c>, <c>input_file</c> parts.
/// <c>previous_response_id</c> is refused: Beamline keeps no responses to continue from.
/// </summary>
internal static class ResponsesToChat
{
    public static void Write(Utf8JsonWriter writer, JsonElement root, string? upstreamModel)
    {
        if (root.TryGetProperty("previous_response_id", out var previous) && previous.ValueKind == JsonValueKind.String)
        {
            throw new GatewayFormatException("previous_response_id is not supported: Beamline does not store responses; send the conversation in 'input'");
        }
        writer.WriteStartObject();
        if (upstreamModel is not null)
        {
            writer.WriteString("model", upstreamModel);
        }
        else if (root.TryGetProperty("model", out var model))
        {
            writer.WritePropertyName("model");
            model.WriteTo(writer);
        }
        writer.WriteStartArray("messages");
        if (Json.String(root, "instructions") is { Length: > 0 } instructions)
        {
            writer.WriteStartObject();
            writer.WriteString("role", "system");
            writer.WriteString("content", instructions);
            writer.WriteEndObject();
        }
        root.TryGetProperty("input", out var input);
        if (input.ValueKind == JsonValueKind.String)
        {
            writer.WriteStartObject();
            writer.WriteString("role", "user");
            writer.WriteString("content", input.GetString());
            writer.WriteEndObject();
        }
        else if (input.ValueKind == JsonValueKind.Array)
        {
            WriteItems(writer, input);
        }
        writer.WriteEndArray();
        if (Json.Int(root, "max_output_tokens") is { } maxTokens)
        {
            writer.WriteNumber("max_tokens", maxTokens);
        }
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p", "parallel_tool_calls", "user"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }
        if (root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            writer.WriteBoolean("stream", true);
            writer.WriteStartObject("stream_options");
            writer.WriteBoolean("include_usage", true);
            writer.WriteEndObject();
        }
        WriteFormat(writer, root);
        WriteTools(writer, root);
        writer.WriteEndObject();
    }

    private static void WriteItems(Utf8JsonWriter writer, JsonElement input)
    {
        var inCalls = false;
        foreach (var item in input.EnumerateArray())
        {
            var type = Json.String(item, "type") ?? (item.TryGetProperty("role", out _) ? "message" : null);
            if (type == "function_call")
            {
                if (!inCalls)
                {
                    writer.WriteStartObject();
                    writer.WriteString("role", "assistant");
                    writer.WriteNull("content");
                    writer.WriteStartArray("tool_calls");
                    inCalls = true;
                }
                writer.WriteStartObject();
                writer.WriteString("id", Json.String(item, "call_id") ?? Json.String(item, "id") ?? string.Empty);
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", Json.String(item, "name") ?? string.Empty);
                writer.WriteString("arguments", Json.String(item, "arguments") ?? "{}");
                writer.WriteEndObject();
                writer.WriteEndObject();
                continue;
            }
            if (inCalls)
            {
                writer.WriteEndArray();
                writer.WriteEndObject();
                inCalls = false;
            }
            switch (type)
            {
                case "message":
                    WriteMessage(writer, item);
                    break;
                case "function_call_output":
                    writer.WriteStartObject();
                    writer.WriteString("role", "tool");
                    writer.WriteString("tool_call_id", Json.String(item, "call_id") ?? string.Empty);
                    item.TryGetProperty("output", out var output);
                    writer.WriteString("content", ChatToAnthropic.TextOf(output));
                    writer.WriteEndObject();
                    break;
                default:
                    break; // reasoning, built-in tool calls, item references
            }
        }
        if (inCalls)
        {
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
    }

    private static void WriteMessage(Utf8JsonWriter writer, JsonElement item)
    {
        var role = Json.String(item, "role") ?? "user";
        item.TryGetProperty("content", out var content);
        writer.WriteStartObject();
        writer.WriteString("role", role);
        if (content.ValueKind != JsonValueKind.Array)
        {
            writer.WriteString("content", ChatToAnthropic.TextOf(content));
            writer.WriteEndObject();
            return;
        }
        if (role is "assistant" or "system" or "developer")
        {
            // Chat takes text only from these roles: the parts' text, joined.
            writer.WriteString("content", ChatToAnthropic.TextOf(content));
            writer.WriteEndObject();
            return;
        }
        writer.WriteStartArray("content");
        foreach (var part in content.EnumerateArray())
        {
            switch (Json.String(part, "type"))
            {
                case "input_text" or "output_text" or "text":
                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("text", Json.String(part, "text") ?? string.Empty);
                    writer.WriteEndObject();
                    break;
                case "input_image" when Json.String(part, "image_url") is { } url:
                    writer.WriteStartObject();
                    writer.WriteString("type", "image_url");
                    writer.WriteStartObject("image_url");
                    writer.WriteString("url", url);
                    if (Json.String(part, "detail") is { } detail)
                    {
                        writer.WriteString("detail", detail);
                    }
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                default:
                    break;
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteFormat(Utf8JsonWriter writer, JsonElement root)
    {
        if (!Json.TryGet(root, "text", JsonValueKind.Object, out var text) || !Json.TryGet(text, "format", JsonValueKind.Object, out var format))
        {
            return;
        }
        switch (Json.String(format, "type"))
        {
            case "json_object":
                writer.WriteStartObject("response_format");
                writer.WriteString("type", "json_object");
                writer.WriteEndObject();
                break;
            case "json_schema":
                writer.WriteStartObject("response_format");
                writer.WriteString("type", "json_schema");
                writer.WriteStartObject("json_schema");
                foreach (var member in format.EnumerateObject())
                {
                    if (!member.NameEquals("type"))
                    {
                        member.WriteTo(writer);
                    }
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            default:
                break;
        }
    }

    private static void WriteTools(Utf8JsonWriter writer, JsonElement root)
    {
        var any = false;
        if (Json.TryGet(root, "tools", JsonValueKind.Array, out var tools))
        {
            foreach (var tool in tools.EnumerateArray())
            {
                if (Json.String(tool, "type") != "function")
                {
                    continue;
                }
                if (!any)
                {
                    writer.WriteStartArray("tools");
                    any = true;
                }
                writer.WriteStartObject();
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                foreach (var member in tool.EnumerateObject())
                {
                    if (member.Name is "name" or "description" or "parameters" or "strict")
                    {
                        member.WriteTo(writer);
                    }
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            if (any)
            {
                writer.WriteEndArray();
            }
        }
        if (!any || !root.TryGetProperty("tool_choice", out var choice))
        {
            return;
        }
        if (choice.ValueKind == JsonValueKind.String)
        {
            writer.WritePropertyName("tool_choice");
            choice.WriteTo(writer);
        }
        else if (Json.String(choice, "type") == "function" && Json.String(choice, "name") is { } name)
        {
            writer.WriteStartObject("tool_choice");
            writer.WriteString("type", "function");
            writer.WriteStartObject("function");
            writer.WriteString("name", name);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }
}
