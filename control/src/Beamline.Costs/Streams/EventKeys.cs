using System.Text.Json;

namespace Beamline.Costs.Streams;

/// <summary>The member names a stream meter looks for in streamed events (every other name is <see cref="Other"/>).</summary>
internal enum EventKey : byte
{
    /// <summary>A name the meter does not read.</summary>
    Other,

    /// <summary>An array item (no name).</summary>
    Item,

    /// <summary><c>id</c>.</summary>
    Id,

    /// <summary><c>model</c>.</summary>
    Model,

    /// <summary><c>created</c>.</summary>
    Created,

    /// <summary><c>type</c>.</summary>
    Type,

    /// <summary><c>index</c>.</summary>
    Index,

    /// <summary><c>choices</c>.</summary>
    Choices,

    /// <summary><c>delta</c>.</summary>
    Delta,

    /// <summary><c>content</c>.</summary>
    Content,

    /// <summary><c>tool_calls</c>.</summary>
    ToolCalls,

    /// <summary><c>function</c>.</summary>
    Function,

    /// <summary><c>arguments</c>.</summary>
    Arguments,

    /// <summary><c>usage</c>.</summary>
    Usage,

    /// <summary><c>prompt_tokens</c>.</summary>
    PromptTokens,

    /// <summary><c>completion_tokens</c>.</summary>
    CompletionTokens,

    /// <summary><c>prompt_tokens_details</c>.</summary>
    PromptTokensDetails,

    /// <summary><c>cached_tokens</c>.</summary>
    CachedTokens,

    /// <summary><c>message</c>.</summary>
    Message,

    /// <summary><c>input_tokens</c>.</summary>
    InputTokens,

    /// <summary><c>output_tokens</c>.</summary>
    OutputTokens,

    /// <summary><c>cache_read_input_tokens</c>.</summary>
    CacheReadInputTokens,

    /// <summary><c>cache_creation_input_tokens</c>.</summary>
    CacheCreationInputTokens,

    /// <summary><c>input_tokens_details</c>.</summary>
    InputTokensDetails,

    /// <summary><c>text</c>.</summary>
    Text,

    /// <summary><c>partial_json</c>.</summary>
    PartialJson,

    /// <summary><c>thinking</c>.</summary>
    Thinking,

    /// <summary><c>response</c>.</summary>
    Response,

    /// <summary><c>created_at</c>.</summary>
    CreatedAt,
}

/// <summary>Looks up a member name without allocating: names are bucketed by their UTF-8 length.</summary>
internal static class EventKeys
{
    private static readonly (byte[] Name, EventKey Key)[] All =
    [
        ("id"u8.ToArray(), EventKey.Id),
        ("model"u8.ToArray(), EventKey.Model),
        ("created"u8.ToArray(), EventKey.Created),
        ("type"u8.ToArray(), EventKey.Type),
        ("index"u8.ToArray(), EventKey.Index),
        ("choices"u8.ToArray(), EventKey.Choices),
        ("delta"u8.ToArray(), EventKey.Delta),
        ("content"u8.ToArray(), EventKey.Content),
        ("tool_calls"u8.ToArray(), EventKey.ToolCalls),
        ("function"u8.ToArray(), EventKey.Function),
        ("arguments"u8.ToArray(), EventKey.Arguments),
        ("usage"u8.ToArray(), EventKey.Usage),
        ("prompt_tokens"u8.ToArray(), EventKey.PromptTokens),
        ("completion_tokens"u8.ToArray(), EventKey.CompletionTokens),
        ("prompt_tokens_details"u8.ToArray(), EventKey.PromptTokensDetails),
        ("cached_tokens"u8.ToArray(), EventKey.CachedTokens),
        ("message"u8.ToArray(), EventKey.Message),
        ("input_tokens"u8.ToArray(), EventKey.InputTokens),
        ("output_tokens"u8.ToArray(), EventKey.OutputTokens),
        ("cache_read_input_tokens"u8.ToArray(), EventKey.CacheReadInputTokens),
        ("cache_creation_input_tokens"u8.ToArray(), EventKey.CacheCreationInputTokens),
        ("input_tokens_details"u8.ToArray(), EventKey.InputTokensDetails),
        ("text"u8.ToArray(), EventKey.Text),
        ("partial_json"u8.ToArray(), EventKey.PartialJson),
        ("thinking"u8.ToArray(), EventKey.Thinking),
        ("response"u8.ToArray(), EventKey.Response),
        ("created_at"u8.ToArray(), EventKey.CreatedAt),
    ];

    private static readonly (byte[] Name, EventKey Key)[][] ByLength = Bucket();

    /// <summary>The key of the property name <paramref name="reader"/> is on.</summary>
    public static EventKey Of(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            foreach (var (name, key) in All)
            {
                if (reader.ValueTextEquals(name))
                {
                    return key;
                }
            }
            return EventKey.Other;
        }
        var span = reader.ValueSpan;
        if (span.Length >= ByLength.Length)
        {
            return EventKey.Other;
        }
        foreach (var (name, key) in ByLength[span.Length])
        {
            if (span.SequenceEqual(name))
            {
                return key;
            }
        }
        return EventKey.Other;
    }

    private static (byte[] Name, EventKey Key)[][] Bucket()
    {
        var longest = 0;
        foreach (var (name, _) in All)
        {
            longest = Math.Max(longest, name.Length);
        }
        var buckets = new List<(byte[], EventKey)>[longest + 1];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = [];
        }
        foreach (var entry in All)
        {
            buckets[entry.Name.Length].Add(entry);
        }
        var result = new (byte[] Name, EventKey Key)[buckets.Length][];
        for (var i = 0; i < buckets.Length; i++)
        {
            result[i] = [.. buckets[i]];
        }
        return result;
    }
}
