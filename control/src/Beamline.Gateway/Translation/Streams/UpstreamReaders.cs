using System.Text.Json;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>Reads one upstream format's events and tells an emitter what they mean.</summary>
internal abstract class UpstreamReader(StreamEmitter emitter)
{
    protected StreamEmitter Emitter { get; } = emitter;

    /// <summary>One complete event: its name (or null) and its data.</summary>
    public void Handle(string? name, ReadOnlySpan<byte> data)
    {
        if (Emitter.Ended)
        {
            return; // after the end or an error nothing more is the client's
        }
        JsonDocument document;
        try
        {
            if (IsEnd(name, data))
            {
                return;
            }
            var reader = new Utf8JsonReader(data);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            Emitter.Error("api_error", $"the provider's stream could not be read: {e.Message}");
            return;
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                Emitter.Error("api_error", "the provider's stream could not be read: an event's data is not a JSON object");
                return;
            }
            Handle(name, document.RootElement);
        }
    }

    /// <summary>Whether the event is a non-JSON end marker (handled).</summary>
    protected virtual bool IsEnd(string? name, ReadOnlySpan<byte> data) => false;

    protected abstract void Handle(string? name, JsonElement data);
}

/// <summary>
/// OpenAI <c>chat.completion.chunk</c> events: the first chunk starts the answer; <c>delta.content</c>
/// (and <c>delta.refusal</c>) is text; a <c>tool_calls</c> entry with an id starts a call, its
/// <c>function.arguments</c> continue it (calls are taken to come one after another, as OpenAI sends
/// them); <c>finish_reason</c> stops; <c>usage</c> counts; <c>[DONE]</c> ends; <c>{"error"}</c> fails.
/// </summary>
internal sealed class ChatStreamReader(StreamEmitter emitter) : UpstreamReader(emitter)
{
    private bool _started;

    protected override bool IsEnd(string? name, ReadOnlySpan<byte> data)
    {
        if (!data.Trim((byte)' ').SequenceEqual("[DONE]"u8))
        {
            return false;
        }
        Emitter.End();
        return true;
    }

    protected override void Handle(string? name, JsonElement data)
    {
        if (data.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            Emitter.Error(StreamEmitter.AnthropicErrorType(Json.String(error, "type") ?? Json.String(error, "code")),
                Json.String(error, "message") ?? "the provider failed");
            return;
        }
        if (!_started)
        {
            _started = true;
            Emitter.Start(Json.String(data, "id"), Json.String(data, "model"), default);
        }
        if (data.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object || (Json.Int(choice, "index") ?? 0) != 0)
                {
                    continue; // one answer: the first choice
                }
                if (Json.TryGet(choice, "delta", JsonValueKind.Object, out var delta))
                {
                    Delta(delta);
                }
                if (Json.String(choice, "finish_reason") is { } finish)
                {
                    Emitter.Stop(StopReasons.FromOpenAI(finish));
                }
            }
        }
        if (Json.TryGet(data, "usage", JsonValueKind.Object, out var usage))
        {
            Emitter.Usage(TokenUsage.FromOpenAI(usage));
        }
    }

    private void Delta(JsonElement delta)
    {
        if (Json.String(delta, "content") is { Length: > 0 } content)
        {
            Emitter.Text(content);
        }
        if (Json.String(delta, "refusal") is { Length: > 0 } refusal)
        {
            Emitter.Text(refusal);
        }
        if (!Json.TryGet(delta, "tool_calls", JsonValueKind.Array, out var calls))
        {
            return;
        }
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            Json.TryGet(call, "function", JsonValueKind.Object, out var function);
            if (Json.String(call, "id") is { Length: > 0 } id)
            {
                Emitter.ToolStart(id, Json.String(function, "name") ?? string.Empty);
            }
            if (Json.String(function, "arguments") is { Length: > 0 } arguments)
            {
                Emitter.ToolArguments(arguments);
            }
        }
    }
}

/// <summary>
/// Anthropic Messages events: <c>message_start</c> starts (with the input usage); text blocks and
/// their <c>text_delta</c>s are text; a <c>tool_use</c> block starts a call and its
/// <c>input_json_delta</c>s continue it; other blocks (<c>thinking</c>, server tools) are dropped,
/// having no Chat Completions or Responses form here; <c>message_delta</c> stops and counts;
/// <c>message_stop</c> ends; <c>ping</c> is dropped; <c>error</c> fails.
/// </summary>
internal sealed class AnthropicStreamReader(StreamEmitter emitter) : UpstreamReader(emitter)
{
    // The kinds of the upstream's blocks by index: 0 dropped, 1 text, 2 tool_use.
    private readonly List<byte> _blocks = [];

    protected override void Handle(string? name, JsonElement data)
    {
        switch (Json.String(data, "type") ?? name)
        {
            case "message_start":
                Json.TryGet(data, "message", JsonValueKind.Object, out var message);
                Json.TryGet(message, "usage", JsonValueKind.Object, out var startUsage);
                Emitter.Start(Json.String(message, "id"), Json.String(message, "model"), TokenUsage.FromAnthropic(startUsage));
                break;
            case "content_block_start":
                BlockStart(data);
                break;
            case "content_block_delta":
                BlockDelta(data);
                break;
            case "message_delta":
                if (Json.TryGet(data, "usage", JsonValueKind.Object, out var usage))
                {
                    Emitter.Usage(TokenUsage.FromAnthropic(usage));
                }
                if (Json.TryGet(data, "delta", JsonValueKind.Object, out var delta) && Json.String(delta, "stop_reason") is { } reason)
                {
                    Emitter.Stop(StopReasons.FromAnthropic(reason));
                }
                break;
            case "message_stop":
                Emitter.End();
                break;
            case "error":
                Json.TryGet(data, "error", JsonValueKind.Object, out var error);
                Emitter.Error(Json.String(error, "type") ?? "api_error", Json.String(error, "message") ?? "the provider failed");
                break;
            default:
                break; // ping, content_block_stop, and events this version does not know
        }
    }

    private void BlockStart(JsonElement data)
    {
        var index = Json.Int(data, "index") ?? _blocks.Count;
        while (_blocks.Count <= index)
        {
            _blocks.Add(0);
        }
        Json.TryGet(data, "content_block", JsonValueKind.Object, out var block);
        switch (Json.String(block, "type"))
        {
            case "text":
                _blocks[index] = 1;
                if (Json.String(block, "text") is { Length: > 0 } text)
                {
                    Emitter.Text(text);
                }
                break;
            case "tool_use":
                _blocks[index] = 2;
                Emitter.ToolStart(Json.String(block, "id") ?? string.Empty, Json.String(block, "name") ?? string.Empty);
                if (Json.TryGet(block, "input", JsonValueKind.Object, out var input) && input.EnumerateObject().MoveNext())
                {
                    Emitter.ToolArguments(input.GetRawText());
                }
                break;
            default:
                break;
        }
    }

    private void BlockDelta(JsonElement data)
    {
        var index = Json.Int(data, "index") ?? -1;
        var kind = index >= 0 && index < _blocks.Count ? _blocks[index] : (byte)0;
        if (kind == 0 || !Json.TryGet(data, "delta", JsonValueKind.Object, out var delta))
        {
            return;
        }
        if (kind == 1 && Json.String(delta, "text") is { Length: > 0 } text)
        {
            Emitter.Text(text);
        }
        else if (kind == 2 && Json.String(delta, "partial_json") is { Length: > 0 } json)
        {
            Emitter.ToolArguments(json);
        }
    }
}
