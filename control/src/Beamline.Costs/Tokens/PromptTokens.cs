using System.Text.Json;
using Beamline.Pipeline;
using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Tokens;

/// <summary>
/// Counts a request's prompt tokens with a real tokenizer over the text its format carries. Chat
/// messages are counted as OpenAI's cookbook counts them (every string of a message, 3 tokens per
/// message and 3 priming the reply, 1 more for a <c>name</c>); tool definitions and tool inputs by
/// their JSON text, and an image part as 85 tokens (OpenAI's low-detail figure): the provider's
/// own count, when it reports one, is what is charged in the end.
/// </summary>
internal static class PromptTokens
{
    /// <summary>Tokens every chat message costs besides its strings (OpenAI's cookbook, gpt-3.5-turbo-0613 onwards).</summary>
    public const int PerMessage = 3;

    /// <summary>Tokens priming the reply (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>).</summary>
    public const int ReplyPriming = 3;

    /// <summary>Tokens a message's <c>name</c> costs on top of its text.</summary>
    public const int PerName = 1;

    /// <summary>What an image part is counted as (OpenAI's low-detail figure; a floor for other providers).</summary>
    public const int PerImage = 85;

    /// <summary>The prompt tokens of <paramref name="payload"/> in <paramref name="format"/>. Never throws: what cannot be read is counted as text.</summary>
    public static long Count(Tokenizer tokenizer, WireFormat format, PayloadKind kind, ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return 0;
        }
        if (kind != PayloadKind.Json && format is WireFormat.Cp1 or WireFormat.None)
        {
            return TextTokens.Count(tokenizer, payload);
        }
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 256 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return TextTokens.Count(tokenizer, payload);
        }
        using (document)
        {
            var root = document.RootElement;
            var counted = format switch
            {
                WireFormat.OpenAIChat when root.ValueKind == JsonValueKind.Object => Chat(tokenizer, root),
                WireFormat.OpenAIResponses when root.ValueKind == JsonValueKind.Object => Responses(tokenizer, root),
                WireFormat.AnthropicMessages when root.ValueKind == JsonValueKind.Object => Anthropic(tokenizer, root),
                WireFormat.OpenAIEmbeddings when root.ValueKind == JsonValueKind.Object
                    => root.TryGetProperty("input", out var input) ? EmbeddingInput(tokenizer, input) : 0,
                WireFormat.Cp1 or WireFormat.None => Cp1(tokenizer, root),
                _ => -1,
            };
            return counted >= 0 ? counted : TextTokens.Count(tokenizer, payload);
        }
    }

    // OpenAI Chat Completions: the cookbook's num_tokens_from_messages, plus tools.
    private static long Chat(Tokenizer tokenizer, JsonElement root)
    {
        long tokens = root.TryGetProperty("messages", out var messages) ? ChatMessages(tokenizer, messages) : 0;
        return tokens + Tools(tokenizer, root);
    }

    private static long ChatMessages(Tokenizer tokenizer, JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }
        long tokens = ReplyPriming;
        foreach (var message in messages.EnumerateArray())
        {
            tokens += PerMessage;
            if (message.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            foreach (var member in message.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.String)
                {
                    tokens += TextTokens.CountString(tokenizer, member.Value);
                    if (member.NameEquals("name"))
                    {
                        tokens += PerName;
                    }
                }
                else if (member.NameEquals("content"))
                {
                    tokens += Parts(tokenizer, member.Value);
                }
                else if (member.NameEquals("tool_calls") && member.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in member.Value.EnumerateArray())
                    {
                        if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                        {
                            tokens += (function.TryGetProperty("name", out var name) ? TextTokens.CountString(tokenizer, name) : 0)
                                + (function.TryGetProperty("arguments", out var arguments) ? TextTokens.CountString(tokenizer, arguments) : 0);
                        }
                    }
                }
            }
        }
        return tokens;
    }

    // Content parts or blocks (OpenAI and Anthropic): text, images at a fixed figure, tool uses by
    // their input, tool results by their content.
    private static long Parts(Tokenizer tokenizer, JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return TextTokens.CountString(tokenizer, content);
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }
        long tokens = 0;
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.String)
            {
                tokens += TextTokens.CountString(tokenizer, part);
                continue;
            }
            if (part.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            if (part.TryGetProperty("text", out var text))
            {
                tokens += TextTokens.CountString(tokenizer, text);
            }
            else if (part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && (type.ValueEquals("image_url") || type.ValueEquals("image") || type.ValueEquals("input_image")))
            {
                tokens += PerImage;
            }
            else if (part.TryGetProperty("input", out var input))
            {
                tokens += (part.TryGetProperty("name", out var name) ? TextTokens.CountString(tokenizer, name) : 0) + TextTokens.CountRaw(tokenizer, input);
            }
            else if (part.TryGetProperty("content", out var inner))
            {
                tokens += Parts(tokenizer, inner);
            }
        }
        return tokens;
    }

    private static long Tools(Tokenizer tokenizer, JsonElement root)
        => (root.TryGetProperty("tools", out var tools) ? TextTokens.CountRaw(tokenizer, tools) : 0)
            + (root.TryGetProperty("functions", out var functions) ? TextTokens.CountRaw(tokenizer, functions) : 0);

    // OpenAI Responses: instructions and input (a string, or items counted like chat messages).
    private static long Responses(Tokenizer tokenizer, JsonElement root)
    {
        long tokens = root.TryGetProperty("instructions", out var instructions) ? TextTokens.CountString(tokenizer, instructions) : 0;
        if (root.TryGetProperty("input", out var input))
        {
            if (input.ValueKind == JsonValueKind.String)
            {
                tokens += PerMessage + ReplyPriming + TextTokens.CountString(tokenizer, input);
            }
            else if (input.ValueKind == JsonValueKind.Array)
            {
                tokens += ReplyPriming;
                foreach (var item in input.EnumerateArray())
                {
                    tokens += PerMessage;
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }
                    foreach (var name in (ReadOnlySpan<string>)["role", "name", "arguments", "output"])
                    {
                        if (item.TryGetProperty(name, out var value))
                        {
                            tokens += TextTokens.CountString(tokenizer, value);
                        }
                    }
                    if (item.TryGetProperty("content", out var content))
                    {
                        tokens += Parts(tokenizer, content);
                    }
                }
            }
        }
        return tokens + Tools(tokenizer, root);
    }

    // Anthropic Messages: system (a string or text blocks), messages' blocks, tools.
    private static long Anthropic(Tokenizer tokenizer, JsonElement root)
    {
        long tokens = root.TryGetProperty("system", out var system) ? Parts(tokenizer, system) : 0;
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            tokens += ReplyPriming;
            foreach (var message in messages.EnumerateArray())
            {
                tokens += PerMessage;
                if (message.ValueKind == JsonValueKind.Object)
                {
                    tokens += (message.TryGetProperty("role", out var role) ? TextTokens.CountString(tokenizer, role) : 0)
                        + (message.TryGetProperty("content", out var content) ? Parts(tokenizer, content) : 0);
                }
            }
        }
        return tokens + Tools(tokenizer, root);
    }

    // OpenAI Embeddings: a string, strings, or token ids (one token each).
    private static long EmbeddingInput(Tokenizer tokenizer, JsonElement input)
    {
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                return TextTokens.CountString(tokenizer, input);
            case JsonValueKind.Number:
                return 1;
            case JsonValueKind.Array:
                long tokens = 0;
                foreach (var item in input.EnumerateArray())
                {
                    tokens += EmbeddingInput(tokenizer, item);
                }
                return tokens;
            default:
                return 0;
        }
    }

    // CP1: a string, {"messages"} (counted as chat), {"text"} / {"prompt"}; else the JSON's text.
    private static long Cp1(Tokenizer tokenizer, JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.String)
        {
            return TextTokens.CountString(tokenizer, root);
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            return -1;
        }
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            return ChatMessages(tokenizer, messages) + Tools(tokenizer, root);
        }
        var found = false;
        long tokens = 0;
        foreach (var name in (ReadOnlySpan<string>)["text", "prompt"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                found = true;
                tokens += TextTokens.CountString(tokenizer, value);
            }
        }
        return found ? tokens : -1;
    }
}
