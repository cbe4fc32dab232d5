using System.Text.Json;
using Beamline.Costs.Tokens;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Usage;

/// <summary>
/// The usage of a whole answer: the <c>usage</c> the OpenAI and Anthropic forms report, else the
/// answer's text counted with the tokenizer (<see cref="TokenUsage.Estimated"/>).
/// </summary>
internal static class AnswerUsage
{
    /// <summary>The usage of <paramref name="answer"/> in <paramref name="format"/>; <paramref name="promptTokens"/> stands for the input when it is counted.</summary>
    public static TokenUsage Read(Tokenizer tokenizer, WireFormat format, ReadOnlySpan<byte> answer, long promptTokens)
    {
        JsonDocument? document = null;
        try
        {
            var reader = new Utf8JsonReader(answer, new JsonReaderOptions { MaxDepth = 256 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            // Opaque bytes (a block's output): counted as text.
        }
        if (document is null)
        {
            return new TokenUsage(promptTokens, format == WireFormat.OpenAIEmbeddings ? 0 : TextTokens.Count(tokenizer, answer), Estimated: true);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("usage", out var usage) && Reported(format, usage) is { } reported)
            {
                return reported;
            }
            var output = format switch
            {
                WireFormat.OpenAIEmbeddings => 0,
                _ when root.ValueKind == JsonValueKind.Object => AnswerText(tokenizer, root),
                _ when root.ValueKind == JsonValueKind.String => TextTokens.CountString(tokenizer, root),
                _ => TextTokens.Count(tokenizer, answer),
            };
            return new TokenUsage(promptTokens, output, Estimated: true);
        }
    }

    /// <summary>
    /// A <c>usage</c> object as one of the forms reports it: OpenAI Chat and Embeddings
    /// (<c>prompt_tokens</c>, <c>completion_tokens</c>, <c>prompt_tokens_details.cached_tokens</c>),
    /// OpenAI Responses (<c>input_tokens</c>, <c>output_tokens</c>, <c>input_tokens_details.cached_tokens</c>)
    /// and Anthropic (<c>input_tokens</c> not counting the cache, which <c>cache_read_input_tokens</c>
    /// and <c>cache_creation_input_tokens</c> add to). Null when it holds none of them.
    /// </summary>
    public static TokenUsage? Reported(WireFormat format, JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (Number(usage, "prompt_tokens") is { } prompt)
        {
            var cached = usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
                ? Number(details, "cached_tokens") ?? 0 : 0;
            return new TokenUsage(prompt, Number(usage, "completion_tokens") ?? 0, cached);
        }
        if (Number(usage, "input_tokens") is not { } input)
        {
            return null;
        }
        var output = Number(usage, "output_tokens") ?? 0;
        if (usage.TryGetProperty("input_tokens_details", out var inputDetails) && inputDetails.ValueKind == JsonValueKind.Object)
        {
            return new TokenUsage(input, output, Number(inputDetails, "cached_tokens") ?? 0);
        }
        if (format == WireFormat.OpenAIResponses)
        {
            return new TokenUsage(input, output);
        }
        var read = Number(usage, "cache_read_input_tokens") ?? 0;
        var created = Number(usage, "cache_creation_input_tokens") ?? 0;
        return new TokenUsage(input + read + created, output, read);
    }

    private static long? Number(JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 0 ? number : null;

    // The text an answer carries: choices[].message (content, tool calls), content[] blocks,
    // output[] items (their content's text, function calls' arguments).
    private static long AnswerText(Tokenizer tokenizer, JsonElement root)
    {
        long tokens = 0;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
                {
                    tokens += Content(tokenizer, message);
                    if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var call in calls.EnumerateArray())
                        {
                            if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                            {
                                tokens += Member(tokenizer, function, "name") + Member(tokenizer, function, "arguments");
                            }
                        }
                    }
                }
                else if (choice.TryGetProperty("text", out var text))
                {
                    tokens += TextTokens.CountString(tokenizer, text);
                }
            }
            return tokens;
        }
        if (root.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in output.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object)
                {
                    tokens += Content(tokenizer, item) + Member(tokenizer, item, "name") + Member(tokenizer, item, "arguments");
                }
            }
            return tokens;
        }
        if (root.TryGetProperty("content", out _))
        {
            return Content(tokenizer, root);
        }
        // A CP1 answer: {"text"} or {"output"} as a string.
        return Member(tokenizer, root, "text") + Member(tokenizer, root, "output");
    }

    // A "content" member: a string, or blocks with text (or a tool use's input).
    private static long Content(Tokenizer tokenizer, JsonElement parent)
    {
        if (!parent.TryGetProperty("content", out var content))
        {
            return 0;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return TextTokens.CountString(tokenizer, content);
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }
        long tokens = 0;
        foreach (var block in content.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            if (block.TryGetProperty("text", out var text))
            {
                tokens += TextTokens.CountString(tokenizer, text);
            }
            else if (block.TryGetProperty("input", out var input))
            {
                tokens += Member(tokenizer, block, "name") + TextTokens.CountRaw(tokenizer, input);
            }
            else if (block.TryGetProperty("thinking", out var thinking))
            {
                tokens += TextTokens.CountString(tokenizer, thinking);
            }
        }
        return tokens;
    }

    private static long Member(Tokenizer tokenizer, JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) ? TextTokens.CountString(tokenizer, value) : 0;
}
