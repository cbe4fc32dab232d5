using System.Text;
using System.Text.Json;

namespace Beamline.Gateway.Translation.Requests;

/// <summary>
/// An OpenAI Chat Completions request as an Anthropic Messages request. <c>system</c> and
/// <c>developer</c> messages join the top-level <c>system</c>; every other message becomes content
/// blocks (text, images as base64 or URL sources, assistant <c>tool_calls</c> as <c>tool_use</c>,
/// <c>tool</c> messages as a user's <c>tool_result</c>s), consecutive messages of one role merged
/// into one, as the API requires alternating roles. <c>max_completion_tokens</c> or
/// <c>max_tokens</c> (4096 when neither: the API requires it), <c>temperature</c>, <c>top_p</c>,
/// <c>stop</c> (as <c>stop_sequences</c>), <c>stream</c>, <c>user</c> (as <c>metadata.user_id</c>),
/// <c>tools</c>, <c>tool_choice</c> and <c>parallel_tool_calls: false</c> are carried over. Dropped,
/// having no Messages form: <c>n</c>, <c>logprobs</c>, <c>top_logprobs</c>, <c>presence_penalty</c>,
/// <c>frequency_penalty</c>, <c>logit_bias</c>, <c>seed</c>, <c>response_format</c>,
/// <c>stream_options</c>, <c>audio</c>/<c>input_audio</c>/<c>file</c> parts and the like.
/// </summary>
internal static class ChatToAnthropic
{
    /// <summary><c>max_tokens</c> when the request sets none.</summary>
    public const int DefaultMaxTokens = 4096;

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
        var maxTokens = Json.Int(root, "max_completion_tokens") ?? Json.Int(root, "max_tokens") ?? DefaultMaxTokens;
        writer.WriteNumber("max_tokens", maxTokens);
        Json.TryGet(root, "messages", JsonValueKind.Array, out var messages);
        if (System(messages) is { } system)
        {
            writer.WriteString("system", system);
        }
        WriteMessages(writer, messages);
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p", "stream"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }
        if (root.TryGetProperty("stop", out var stop))
        {
            if (stop.ValueKind == JsonValueKind.String)
            {
                writer.WriteStartArray("stop_sequences");
                writer.WriteStringValue(stop.GetString());
                writer.WriteEndArray();
            }
            else if (stop.ValueKind == JsonValueKind.Array)
            {
                writer.WritePropertyName("stop_sequences");
                stop.WriteTo(writer);
            }
        }
        if (Json.String(root, "user") is { } user)
        {
            writer.WriteStartObject("metadata");
            writer.WriteString("user_id", user);
            writer.WriteEndObject();
        }
        WriteTools(writer, root);
        writer.WriteEndObject();
    }

    private static string? System(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        StringBuilder? system = null;
        foreach (var message in messages.EnumerateArray())
        {
            if (Json.String(message, "role") is "system" or "developer" && message.TryGetProperty("content", out var content))
            {
                var text = TextOf(content);
                if (text.Length > 0)
                {
                    system = system is null ? new StringBuilder(text) : system.Append("\n\n").Append(text);
                }
            }
        }
        return system?.ToString();
    }

    /// <summary>The text of a string content, or of its text parts joined.</summary>
    internal static string TextOf(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return string.Empty;
        }
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.String)
            {
                text.Append(part.GetString());
            }
            else if (Json.String(part, "text") is { } value)
            {
                text.Append(value);
            }
        }
        return text.ToString();
    }

    private static void WriteMessages(Utf8JsonWriter writer, JsonElement messages)
    {
        writer.WriteStartArray("messages");
        string? open = null;
        if (messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                var role = Json.String(message, "role");
                var anthropicRole = role switch
                {
                    "user" or "tool" or "function" => "user",
                    "assistant" => "assistant",
                    _ => null, // system and developer: the system prompt
                };
                if (anthropicRole is null)
                {
                    continue;
                }
                if (open != anthropicRole)
                {
                    if (open is not null)
                    {
                        writer.WriteEndArray();
                        writer.WriteEndObject();
                    }
                    writer.WriteStartObject();
                    writer.WriteString("role", anthropicRole);
                    writer.WriteStartArray("content");
                    open = anthropicRole;
                }
                WriteBlocks(writer, message, role!);
            }
        }
        if (open is not null)
        {
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteBlocks(Utf8JsonWriter writer, JsonElement message, string role)
    {
        message.TryGetProperty("content", out var content);
        if (role is "tool" or "function")
        {
            writer.WriteStartObject();
            writer.WriteString("type", "tool_result");
            writer.WriteString("tool_use_id", Json.String(message, "tool_call_id") ?? Json.String(message, "name") ?? string.Empty);
            writer.WriteString("content", TextOf(content));
            writer.WriteEndObject();
            return;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            WriteText(writer, content.GetString()!);
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                WritePart(writer, part);
            }
        }
        if (role == "assistant" && Json.TryGet(message, "tool_calls", JsonValueKind.Array, out var calls))
        {
            foreach (var call in calls.EnumerateArray())
            {
                Json.TryGet(call, "function", JsonValueKind.Object, out var function);
                writer.WriteStartObject();
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", Json.String(call, "id") ?? string.Empty);
                writer.WriteString("name", Json.String(function, "name") ?? string.Empty);
                writer.WritePropertyName("input");
                Json.WriteArgumentsAsObject(writer, Json.String(function, "arguments"));
                writer.WriteEndObject();
            }
        }
    }

    private static void WritePart(Utf8JsonWriter writer, JsonElement part)
    {
        if (part.ValueKind == JsonValueKind.String)
        {
            WriteText(writer, part.GetString()!);
            return;
        }
        switch (Json.String(part, "type"))
        {
            case "text":
                WriteText(writer, Json.String(part, "text") ?? string.Empty);
                break;
            case "refusal":
                WriteText(writer, Json.String(part, "refusal") ?? string.Empty);
                break;
            case "image_url":
                var url = part.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object ? Json.String(image, "url")
                    : Json.String(part, "image_url");
                if (url is not null)
                {
                    WriteImage(writer, url);
                }
                break;
            default:
                break; // audio and files have no Messages form here
        }
    }

    // Anthropic refuses empty text blocks.
    private static void WriteText(Utf8JsonWriter writer, string text)
    {
        if (text.Length == 0)
        {
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("type", "text");
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }

    /// <summary>An image block: a <c>data:</c> URL as a base64 source, any other URL as a URL source.</summary>
    internal static void WriteImage(Utf8JsonWriter writer, string url)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "image");
        writer.WriteStartObject("source");
        const string Base64Marker = ";base64,";
        var marker = url.StartsWith("data:", StringComparison.OrdinalIgnoreCase) ? url.IndexOf(Base64Marker, StringComparison.OrdinalIgnoreCase) : -1;
        if (marker > 0)
        {
            writer.WriteString("type", "base64");
            writer.WriteString("media_type", url[5..marker]);
            writer.WriteString("data", url.AsSpan(marker + Base64Marker.Length));
        }
        else
        {
            writer.WriteString("type", "url");
            writer.WriteString("url", url);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteTools(Utf8JsonWriter writer, JsonElement root)
    {
        var choice = root.TryGetProperty("tool_choice", out var given) ? given : default;
        if (choice.ValueKind == JsonValueKind.String && choice.ValueEquals("none"))
        {
            return; // Messages has tool_choice none, but leaving the tools out is what every version takes
        }
        if (!Json.TryGet(root, "tools", JsonValueKind.Array, out var tools) || tools.GetArrayLength() == 0)
        {
            return;
        }
        writer.WriteStartArray("tools");
        foreach (var tool in tools.EnumerateArray())
        {
            if (!Json.TryGet(tool, "function", JsonValueKind.Object, out var function))
            {
                continue; // only function tools have a Messages form
            }
            writer.WriteStartObject();
            writer.WriteString("name", Json.String(function, "name") ?? string.Empty);
            if (Json.String(function, "description") is { } description)
            {
                writer.WriteString("description", description);
            }
            writer.WritePropertyName("input_schema");
            if (Json.TryGet(function, "parameters", JsonValueKind.Object, out var parameters))
            {
                parameters.WriteTo(writer);
            }
            else
            {
                writer.WriteStartObject();
                writer.WriteString("type", "object");
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        var parallel = !(root.TryGetProperty("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False);
        string? type = null;
        string? name = null;
        if (choice.ValueKind == JsonValueKind.String)
        {
            type = choice.ValueEquals("required") ? "any" : "auto";
        }
        else if (choice.ValueKind == JsonValueKind.Object)
        {
            Json.TryGet(choice, "function", JsonValueKind.Object, out var function);
            name = Json.String(function, "name");
            type = name is null ? "auto" : "tool";
        }
        if (type is null && parallel)
        {
            return;
        }
        writer.WriteStartObject("tool_choice");
        writer.WriteString("type", type ?? "auto");
        if (name is not null)
        {
            writer.WriteString("name", name);
        }
        if (!parallel)
        {
            writer.WriteBoolean("disable_parallel_tool_use", true);
        }
        writer.WriteEndObject();
    }
}
