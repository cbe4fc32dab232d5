using System.Text.Json;
using Beamline.Costs.Tokens;

namespace Beamline.Costs.Streams;

/// <summary>The events' JSON, read in place: each member is known by its path of <see cref="EventKey"/>s.</summary>
internal sealed partial class StreamMeter
{
    // Deeper members are never read (the ones looked for are at most 7 deep).
    private const int MaxPath = 12;

    private readonly EventKey[] _path = new EventKey[MaxPath];
    private readonly bool[] _inArray = new bool[MaxPath];

    // What End needs to continue the stream in its own terms.
    private string? _id;
    private string? _model;
    private long? _created;
    private long? _openBlock;

    /// <summary>Reads an OpenAI <c>chat.completion.chunk</c>; true when it is the usage-only chunk to remove.</summary>
    private bool ReadChatChunk(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        var choices = -1;
        var usage = false;
        try
        {
            while (reader.Read())
            {
                var depth = reader.CurrentDepth;
                if (!Step(ref reader, depth))
                {
                    continue;
                }
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray when depth == 1 && _path[1] == EventKey.Choices:
                        choices = 0;
                        break;
                    case JsonTokenType.StartObject when depth == 2 && _path[1] == EventKey.Choices:
                        choices++;
                        break;
                    case JsonTokenType.StartObject when depth == 1 && _path[1] == EventKey.Usage:
                        usage = true;
                        break;
                    case JsonTokenType.String when depth == 1:
                        Identity(ref reader, _path[1]);
                        break;
                    case JsonTokenType.String when depth == 4 && _path[1] == EventKey.Choices && _path[3] == EventKey.Delta && _path[4] == EventKey.Content:
                    case JsonTokenType.String when depth == 7 && _path[1] == EventKey.Choices && _path[3] == EventKey.Delta
                        && _path[4] == EventKey.ToolCalls && _path[6] == EventKey.Function && _path[7] == EventKey.Arguments:
                        _countedOutput += TextTokens.CountString(_tokenizer, ref reader);
                        break;
                    case JsonTokenType.Number when depth == 1 && _path[1] == EventKey.Created:
                        _created = reader.TryGetInt64(out var created) ? created : _created;
                        break;
                    case JsonTokenType.Number when depth == 2 && _path[1] == EventKey.Usage:
                        if (_path[2] == EventKey.PromptTokens)
                        {
                            _reportedInput = Count(ref reader);
                        }
                        else if (_path[2] == EventKey.CompletionTokens)
                        {
                            _reportedOutput = Count(ref reader);
                        }
                        break;
                    case JsonTokenType.Number when depth == 3 && _path[1] == EventKey.Usage && _path[2] == EventKey.PromptTokensDetails && _path[3] == EventKey.CachedTokens:
                        _reportedCached = Count(ref reader);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: passed on as it is, nothing counted from it.
            return false;
        }
        return _dropUsageEvent && usage && choices == 0;
    }

    /// <summary>Reads an Anthropic Messages event (never removed).</summary>
    private bool ReadAnthropicEvent(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        var type = 0; // 1: content_block_start, 2: content_block_stop
        long? index = null;
        try
        {
            while (reader.Read())
            {
                var depth = reader.CurrentDepth;
                if (!Step(ref reader, depth))
                {
                    continue;
                }
                switch (reader.TokenType)
                {
                    case JsonTokenType.String when depth == 1 && _path[1] == EventKey.Type:
                        type = reader.ValueTextEquals("content_block_start"u8) ? 1 : reader.ValueTextEquals("content_block_stop"u8) ? 2 : 0;
                        break;
                    case JsonTokenType.Number when depth == 1 && _path[1] == EventKey.Index:
                        index = reader.TryGetInt64(out var value) ? value : null;
                        break;
                    case JsonTokenType.String when depth == 2 && _path[1] == EventKey.Message:
                        Identity(ref reader, _path[2]);
                        break;
                    case JsonTokenType.String when depth == 2 && _path[1] == EventKey.Delta
                        && _path[2] is EventKey.Text or EventKey.PartialJson or EventKey.Thinking:
                        _countedOutput += TextTokens.CountString(_tokenizer, ref reader);
                        break;
                    case JsonTokenType.Number when depth == 3 && _path[1] == EventKey.Message && _path[2] == EventKey.Usage:
                        AnthropicUsage(ref reader, _path[3], final: false);
                        break;
                    case JsonTokenType.Number when depth == 2 && _path[1] == EventKey.Usage:
                        AnthropicUsage(ref reader, _path[2], final: true);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (type == 1)
        {
            _openBlock = index ?? 0;
        }
        else if (type == 2)
        {
            _openBlock = null;
        }
        return false;
    }

    // Anthropic's input_tokens leaves out the cache: input is the three together, cached the read part.
    // message_start's output_tokens is a running count; message_delta's is the answer's.
    private void AnthropicUsage(ref Utf8JsonReader reader, EventKey key, bool final)
    {
        var value = Count(ref reader);
        switch (key)
        {
            case EventKey.InputTokens:
                _anthropicInput = value;
                break;
            case EventKey.CacheReadInputTokens:
                _anthropicCacheRead = value;
                break;
            case EventKey.CacheCreationInputTokens:
                _anthropicCacheCreation = value;
                break;
            case EventKey.OutputTokens when final:
                _reportedOutput = value;
                return;
            case EventKey.OutputTokens:
                _runningOutput = value;
                return;
            default:
                return;
        }
        _reportedInput = _anthropicInput + _anthropicCacheRead + _anthropicCacheCreation;
        _reportedCached = _anthropicCacheRead;
    }

    private long _anthropicInput;
    private long _anthropicCacheRead;
    private long _anthropicCacheCreation;

    /// <summary>Reads an OpenAI Responses event (never removed).</summary>
    private bool ReadResponsesEvent(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        try
        {
            while (reader.Read())
            {
                var depth = reader.CurrentDepth;
                if (!Step(ref reader, depth))
                {
                    continue;
                }
                switch (reader.TokenType)
                {
                    case JsonTokenType.String when depth == 1 && _path[1] == EventKey.Delta:
                        _countedOutput += TextTokens.CountString(_tokenizer, ref reader);
                        break;
                    case JsonTokenType.String when depth == 2 && _path[1] == EventKey.Response:
                        Identity(ref reader, _path[2]);
                        break;
                    case JsonTokenType.Number when depth == 2 && _path[1] == EventKey.Response && _path[2] == EventKey.CreatedAt:
                        _created = reader.TryGetInt64(out var created) ? created : _created;
                        break;
                    case JsonTokenType.Number when depth == 3 && _path[1] == EventKey.Response && _path[2] == EventKey.Usage:
                        if (_path[3] == EventKey.InputTokens)
                        {
                            _reportedInput = Count(ref reader);
                        }
                        else if (_path[3] == EventKey.OutputTokens)
                        {
                            _reportedOutput = Count(ref reader);
                        }
                        break;
                    case JsonTokenType.Number when depth == 4 && _path[1] == EventKey.Response && _path[2] == EventKey.Usage
                        && _path[3] == EventKey.InputTokensDetails && _path[4] == EventKey.CachedTokens:
                        _reportedCached = Count(ref reader);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        return false;
    }

    /// <summary>
    /// Keeps the path current: a property name sets its depth's key, a value in an array is an
    /// <see cref="EventKey.Item"/>. False for a property name or a member too deep to matter.
    /// </summary>
    private bool Step(ref Utf8JsonReader reader, int depth)
    {
        if (depth >= MaxPath)
        {
            return false;
        }
        var token = reader.TokenType;
        if (token == JsonTokenType.PropertyName)
        {
            _path[depth] = EventKeys.Of(ref reader);
            return false;
        }
        if (token is JsonTokenType.EndObject or JsonTokenType.EndArray)
        {
            return false;
        }
        if (depth > 0 && _inArray[depth - 1])
        {
            _path[depth] = EventKey.Item;
        }
        if (token is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            _inArray[depth] = token == JsonTokenType.StartArray;
        }
        return true;
    }

    private void Identity(ref Utf8JsonReader reader, EventKey key)
    {
        if (key == EventKey.Id && _id is null)
        {
            _id = reader.GetString();
        }
        else if (key == EventKey.Model && _model is null)
        {
            _model = reader.GetString();
        }
    }

    private static long Count(ref Utf8JsonReader reader) => reader.TryGetInt64(out var value) && value >= 0 ? value : 0;
}
