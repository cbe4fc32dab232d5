using System.Text.Json;
using Beamline.Pipeline;

namespace Beamline.Costs;

/// <summary>
/// The top-level members of a gateway request body that cost tracking reads: its <c>model</c>,
/// its output limit and whether it asked for the streamed usage. Read with a forward-only reader
/// that skips everything else (no document is built).
/// </summary>
internal readonly record struct RequestFields(string? Model, long? MaxOutputTokens, bool IncludeUsage)
{
    /// <summary>The fields of <paramref name="payload"/>; none when it is not a JSON object.</summary>
    public static RequestFields Read(WireFormat format, ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return default;
        }
        string? model = null;
        long? maxTokens = null;
        long? maxCompletionTokens = null;
        var includeUsage = false;
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("max_tokens"u8))
                {
                    reader.Read();
                    maxTokens = Limit(ref reader);
                }
                else if (reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    maxCompletionTokens = Limit(ref reader);
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    includeUsage = IncludesUsage(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // A body cut short: what was read so far stands (the provider refuses the rest).
        }
        // OpenAI's max_completion_tokens supersedes its deprecated max_tokens; the Responses API has
        // only max_output_tokens and Anthropic's only max_tokens.
        var max = format switch
        {
            WireFormat.OpenAIResponses => maxCompletionTokens,
            WireFormat.AnthropicMessages => maxTokens,
            _ => maxCompletionTokens ?? maxTokens,
        };
        return new RequestFields(model, max, includeUsage);
    }

    private static long? Limit(ref Utf8JsonReader reader)
        => reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0 ? value : null;

    private static bool IncludesUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return false;
        }
        var include = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (isUsage)
            {
                include = reader.TokenType == JsonTokenType.True;
            }
            else
            {
                reader.Skip();
            }
        }
        return include;
    }
}
