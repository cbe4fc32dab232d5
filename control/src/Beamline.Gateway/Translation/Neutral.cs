using System.Text.Json;

namespace Beamline.Gateway.Translation;

/// <summary>
/// Why an answer stopped, in the OpenAI names: Anthropic's <c>end_turn</c>, <c>stop_sequence</c>
/// and <c>pause_turn</c> are <see cref="Stop"/>, <c>max_tokens</c> <see cref="Length"/>,
/// <c>tool_use</c> <see cref="ToolCalls"/>, <c>refusal</c> <see cref="ContentFilter"/> (and
/// <see cref="ContentFilter"/> is <c>refusal</c> for an Anthropic client).
/// </summary>
internal enum StopReason
{
    None,
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// <summary>
/// Token counts. <see cref="Input"/> counts every prompt token, cached or not (OpenAI's
/// <c>prompt_tokens</c>); Anthropic's <c>input_tokens</c> excludes the cache reads and writes it
/// reports beside it, so it is <see cref="Input"/> less <see cref="CacheRead"/> and <see cref="CacheWrite"/>.
/// </summary>
internal struct TokenUsage
{
    public int? Input;
    public int? Output;
    public int? CacheRead;
    public int? CacheWrite;

    public readonly bool Known => Input is not null || Output is not null;

    /// <summary>Anthropic's <c>input_tokens</c>.</summary>
    public readonly int AnthropicInput => Math.Max(0, (Input ?? 0) - (CacheRead ?? 0) - (CacheWrite ?? 0));

    /// <summary>Takes what <paramref name="later"/> knows over what this knows.</summary>
    public void Merge(in TokenUsage later)
    {
        Input = later.Input ?? Input;
        Output = later.Output ?? Output;
        CacheRead = later.CacheRead ?? CacheRead;
        CacheWrite = later.CacheWrite ?? CacheWrite;
    }

    /// <summary>An OpenAI <c>usage</c> object.</summary>
    public static TokenUsage FromOpenAI(JsonElement usage)
    {
        var result = default(TokenUsage);
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return result;
        }
        result.Input = Json.Int(usage, "prompt_tokens") ?? Json.Int(usage, "input_tokens");
        result.Output = Json.Int(usage, "completion_tokens") ?? Json.Int(usage, "output_tokens");
        if ((usage.TryGetProperty("prompt_tokens_details", out var details) || usage.TryGetProperty("input_tokens_details", out details))
            && details.ValueKind == JsonValueKind.Object)
        {
            result.CacheRead = Json.Int(details, "cached_tokens");
        }
        return result;
    }

    /// <summary>An Anthropic <c>usage</c> object (of a message, <c>message_start</c> or <c>message_delta</c>).</summary>
    public static TokenUsage FromAnthropic(JsonElement usage)
    {
        var result = default(TokenUsage);
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return result;
        }
        result.CacheRead = Json.Int(usage, "cache_read_input_tokens");
        result.CacheWrite = Json.Int(usage, "cache_creation_input_tokens");
        if (Json.Int(usage, "input_tokens") is { } input)
        {
            result.Input = input + (result.CacheRead ?? 0) + (result.CacheWrite ?? 0);
        }
        result.Output = Json.Int(usage, "output_tokens");
        return result;
    }

    public readonly void WriteOpenAI(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", Input ?? 0);
        writer.WriteNumber("completion_tokens", Output ?? 0);
        writer.WriteNumber("total_tokens", (Input ?? 0) + (Output ?? 0));
        if (CacheRead is { } cached)
        {
            writer.WriteStartObject("prompt_tokens_details");
            writer.WriteNumber("cached_tokens", cached);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    public readonly void WriteAnthropic(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", AnthropicInput);
        if (CacheRead is { } read)
        {
            writer.WriteNumber("cache_read_input_tokens", read);
        }
        if (CacheWrite is { } written)
        {
            writer.WriteNumber("cache_creation_input_tokens", written);
        }
        writer.WriteNumber("output_tokens", Output ?? 0);
        writer.WriteEndObject();
    }

    public readonly void WriteResponses(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", Input ?? 0);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("cached_tokens", CacheRead ?? 0);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", Output ?? 0);
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("total_tokens", (Input ?? 0) + (Output ?? 0));
        writer.WriteEndObject();
    }
}

/// <summary>The stop reason names of each API.</summary>
internal static class StopReasons
{
    public static StopReason FromOpenAI(string? reason) => reason switch
    {
        null => StopReason.None,
        "length" => StopReason.Length,
        "tool_calls" or "function_call" => StopReason.ToolCalls,
        "content_filter" => StopReason.ContentFilter,
        _ => StopReason.Stop,
    };

    public static StopReason FromAnthropic(string? reason) => reason switch
    {
        null => StopReason.None,
        "max_tokens" or "model_context_window_exceeded" => StopReason.Length,
        "tool_use" => StopReason.ToolCalls,
        "refusal" => StopReason.ContentFilter,
        _ => StopReason.Stop, // end_turn, stop_sequence, pause_turn
    };

    public static string OpenAI(StopReason reason) => reason switch
    {
        StopReason.Length => "length",
        StopReason.ToolCalls => "tool_calls",
        StopReason.ContentFilter => "content_filter",
        _ => "stop",
    };

    public static string Anthropic(StopReason reason) => reason switch
    {
        StopReason.Length => "max_tokens",
        StopReason.ToolCalls => "tool_use",
        StopReason.ContentFilter => "refusal",
        _ => "end_turn",
    };
}

/// <summary>Small readers over <see cref="JsonElement"/>.</summary>
internal static class Json
{
    /// <summary>
    /// How translations write: non-ASCII text as it is, not as <c>\uXXXX</c> (the bodies are JSON
    /// for APIs, never inlined in HTML), so that answers keep their size and read as sent.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string? String(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static int? Int(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetInt32(out var number)
            ? number
            : null;

    public static bool TryGet(JsonElement element, string name, JsonValueKind kind, out JsonElement value)
        => element.TryGetProperty(name, out value) && value.ValueKind == kind;

    /// <summary>Parses a body that must be a JSON object, or throws <see cref="GatewayFormatException"/>.</summary>
    public static JsonDocument ParseObject(ReadOnlySpan<byte> body, string what)
    {
        var reader = new Utf8JsonReader(body);
        JsonDocument document;
        try
        {
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new GatewayFormatException($"the {what} is not JSON: {e.Message}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new GatewayFormatException($"the {what} must be a JSON object");
        }
        return document;
    }

    /// <summary>Writes a JSON document held in a string (tool arguments) as a value: an object, or <c>{}</c> when it is empty or not JSON.</summary>
    public static void WriteArgumentsAsObject(Utf8JsonWriter writer, string? arguments)
    {
        if (!string.IsNullOrWhiteSpace(arguments))
        {
            try
            {
                using var document = JsonDocument.Parse(arguments);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    document.RootElement.WriteTo(writer);
                    return;
                }
            }
            catch (JsonException)
            {
                // Not JSON: an empty input (the model's malformed arguments cannot be an object).
            }
        }
        writer.WriteStartObject();
        writer.WriteEndObject();
    }
}
