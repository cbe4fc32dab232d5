using System.Text;
using System.Text.Json;

namespace Beamline.Gateway.Translation.Requests;

/// <summary>
/// An Anthropic Messages request as an OpenAI Chat Completions request. <c>system</c> (a string or
/// text blocks) becomes the first message; text and image blocks become content parts (a base64
/// source as a <c>data:</c> URL); <c>tool_use</c> blocks become the assistant's <c>tool_calls</c>
/// (input as an arguments string); <c>tool_result</c> blocks become <c>tool</c> messages, written
/// before the rest of their user message as Chat Completions wants them right after the calls.
/// <c>max_tokens</c> is sent as <c>max_tokens</c> (what OpenAI-compatible servers all read),
/// <c>stop_sequences</c> as <c>stop</c>, <c>metadata.user_id</c> as <c>user</c>, <c>stream</c> with
/// <c>stream_options.include_usage</c> (the usage the Anthropic client expects at the end).
/// Dropped, having no Chat Completions form: <c>top_k</c>, <c>thinking</c> and thinking blocks,
/// <c>cache_control</c>, document blocks, server tools (a tool with a <c>type</c> other than
/// <c>custom</c>), <c>service_tier</c>, <c>container</c>, <c>mcp_servers</c>.
/// </summary>
internal static class AnthropicToChat
{
    public static void Write(Utf8JsonWriter writer, JsonElement root, string? upstreamModel)
    {
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
        if (root.TryGetProperty("system", out var system))
        {
            var text = system.ValueKind == JsonValueKind.String ? system.GetString()! : Requests.ChatToAnthropic.TextOf(system);
            if (text.Length > 0)
            {
                writer.WriteStartObject();
                writer.WriteString("role", "system");
                writer.WriteString("content", text);
                writer.WriteEndObject();
            }
        }
        if (Json.TryGet(root, "messages", JsonValueKind.Array, out var messages))
        {
            foreach (var message in messages.EnumerateArray())
            {
                WriteMessage(writer, message);
            }
        }
        writer.WriteEndArray();
        if (Json.Int(root, "max_tokens") is { } maxTokens)
        {
            writer.WriteNumber("max_tokens", maxTokens);
        }
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }
        if (Json.TryGet(root, "stop_sequences", JsonValueKind.Array, out var stop) && stop.GetArrayLength() > 0)
        {
            writer.WritePropertyName("stop");
            stop.WriteTo(writer);
        }
        if (root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            writer.WriteBoolean("stream", true);
            writer.WriteStartObject("stream_options");
            writer.WriteBoolean("include_usage", true);
            writer.WriteEndObject();
        }
        if (Json.TryGet(root, "metadata", JsonValueKind.Object, out var metadata) && Json.String(metadata, "user_id") is { } user)
        {
            writer.WriteString("user", user);
        }
        WriteTools(writer, root);
        writer.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter writer, JsonElement message)
    {
        var role = Json.String(message, "role") == "assistant" ? "assistant" : "user";
        message.TryGetProperty("content", out var content);
        if (content.ValueKind == JsonValueKind.String)
        {
            writer.WriteStartObject();
            writer.WriteString("role", role);
            writer.WriteString("content", content.GetString());
            writer.WriteEndObject();
            return;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return;
        }
        if (role == "assistant")
        {
            WriteAssistant(writer, content);
            return;
        }
        // Tool results first, each its own tool message; then what else the user said.
        var other = false;
        foreach (var block in content.EnumerateArray())
        {
            if (Json.String(block, "type") == "tool_result")
            {
                writer.WriteStartObject();
                writer.WriteString("role", "tool");
                writer.WriteString("tool_call_id", Json.String(block, "tool_use_id") ?? string.Empty);
                block.TryGetProperty("content", out var result);
                var text = Requests.ChatToAnthropic.TextOf(result);
                if (block.TryGetProperty("is_error", out var isError) && isError.ValueKind == JsonValueKind.True && !text.StartsWith("Error", StringComparison.Ordinal))
                {
                    text = "Error: " + text;
                }
                writer.WriteString("content", text);
                writer.WriteEndObject();
            }
            else
            {
                other = true;
            }
        }
        if (!other)
        {
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("role", "user");
        writer.WriteStartArray("content");
        foreach (var block in content.EnumerateArray())
        {
            switch (Json.String(block, "type"))
            {
                case "text":
                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("text", Json.String(block, "text") ?? string.Empty);
                    writer.WriteEndObject();
                    break;
                case "image" when Json.TryGet(block, "source", JsonValueKind.Object, out var source):
                    var url = Json.String(source, "type") == "base64"
                        ? "data:" + Json.String(source, "media_type") + ";base64," + Json.String(source, "data")
                        : Json.String(source, "url");
                    if (url is not null)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("type", "image_url");
                        writer.WriteStartObject("image_url");
                        writer.WriteString("url", url);
                        writer.WriteEndObject();
                        writer.WriteEndObject();
                    }
                    break;
                default:
                    break;
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteAssistant(Utf8JsonWriter writer, JsonElement content)
    {
        StringBuilder? text = null;
        var calls = 0;
        foreach (var block in content.EnumerateArray())
        {
            switch (Json.String(block, "type"))
            {
                case "text":
                    (text ??= new StringBuilder()).Append(Json.String(block, "text"));
                    break;
                case "tool_use":
                    calls++;
                    break;
                default:
                    break;
            }
        }
        writer.WriteStartObject();
        writer.WriteString("role", "assistant");
        if (text is not null)
        {
            writer.WriteString("content", text.ToString());
        }
        else
        {
            writer.WriteNull("content");
        }
        if (calls > 0)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var block in content.EnumerateArray())
            {
                if (Json.String(block, "type") != "tool_use")
                {
                    continue;
                }
                writer.WriteStartObject();
                writer.WriteString("id", Json.String(block, "id") ?? string.Empty);
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", Json.String(block, "name") ?? string.Empty);
                writer.WriteString("arguments", block.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object ? input.GetRawText() : "{}");
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    private static void WriteTools(Utf8JsonWriter writer, JsonElement root)
    {
        if (!Json.TryGet(root, "tools", JsonValueKind.Array, out var tools))
        {
            return;
        }
        var any = false;
        foreach (var tool in tools.EnumerateArray())
        {
            if (Json.String(tool, "type") is { } type && type != "custom")
            {
                continue; // server tools (web search, code execution, …) run at Anthropic only
            }
            if (!any)
            {
                writer.WriteStartArray("tools");
                any = true;
            }
            writer.WriteStartObject();
            writer.WriteString("type", "function");
            writer.WriteStartObject("function");
            writer.WriteString("name", Json.String(tool, "name") ?? string.Empty);
            if (Json.String(tool, "description") is { } description)
            {
                writer.WriteString("description", description);
            }
            if (Json.TryGet(tool, "input_schema", JsonValueKind.Object, out var schema))
            {
                writer.WritePropertyName("parameters");
                schema.WriteTo(writer);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        if (!any)
        {
            return;
        }
        writer.WriteEndArray();
        if (!Json.TryGet(root, "tool_choice", JsonValueKind.Object, out var choice))
        {
            return;
        }
        switch (Json.String(choice, "type"))
        {
            case "any":
                writer.WriteString("tool_choice", "required");
                break;
            case "none":
                writer.WriteString("tool_choice", "none");
                break;
            case "tool" when Json.String(choice, "name") is { } name:
                writer.WriteStartObject("tool_choice");
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", name);
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            default:
                writer.WriteString("tool_choice", "auto");
                break;
        }
        if (choice.TryGetProperty("disable_parallel_tool_use", out var disable) && disable.ValueKind == JsonValueKind.True)
        {
            writer.WriteBoolean("parallel_tool_calls", false);
        }
    }
}
