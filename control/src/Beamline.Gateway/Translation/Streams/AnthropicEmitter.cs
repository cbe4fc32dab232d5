using System.Text.Json;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// Anthropic Messages events: <c>message_start</c>, a <c>content_block_start</c>/<c>_delta</c>/<c>_stop</c>
/// run per text or <c>tool_use</c> block (tool input as <c>input_json_delta</c>), then
/// <c>message_delta</c> (stop reason and usage) and <c>message_stop</c>.
/// </summary>
internal sealed class AnthropicEmitter(string? clientModel) : StreamEmitter(clientModel)
{
    private enum Block
    {
        None,
        Text,
        Tool,
    }

    private bool _started;
    private Block _block;
    private int _index = -1;
    private TokenUsage _usage;

    public override void Start(string? id, string? model, in TokenUsage usage)
    {
        if (_started || Ended)
        {
            return;
        }
        _started = true;
        _usage.Merge(usage);
        var json = BeginEvent("message_start");
        json.WriteStartObject();
        json.WriteString("type", "message_start");
        json.WriteStartObject("message");
        json.WriteString("id", id ?? "msg_" + Guid.NewGuid().ToString("N"));
        json.WriteString("type", "message");
        json.WriteString("role", "assistant");
        json.WriteString("model", ClientModel ?? model ?? string.Empty);
        json.WriteStartArray("content");
        json.WriteEndArray();
        json.WriteNull("stop_reason");
        json.WriteNull("stop_sequence");
        json.WriteStartObject("usage");
        json.WriteNumber("input_tokens", _usage.AnthropicInput);
        json.WriteNumber("output_tokens", 0);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
        EndEvent();
    }

    public override void Text(string text)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        if (_block != Block.Text)
        {
            CloseBlock();
            _block = Block.Text;
            _index++;
            var start = BeginEvent("content_block_start");
            start.WriteStartObject();
            start.WriteString("type", "content_block_start");
            start.WriteNumber("index", _index);
            start.WriteStartObject("content_block");
            start.WriteString("type", "text");
            start.WriteString("text", string.Empty);
            start.WriteEndObject();
            start.WriteEndObject();
            EndEvent();
        }
        var json = BeginEvent("content_block_delta");
        json.WriteStartObject();
        json.WriteString("type", "content_block_delta");
        json.WriteNumber("index", _index);
        json.WriteStartObject("delta");
        json.WriteString("type", "text_delta");
        json.WriteString("text", text);
        json.WriteEndObject();
        json.WriteEndObject();
        EndEvent();
    }

    public override void ToolStart(string id, string name)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        CloseBlock();
        _block = Block.Tool;
        _index++;
        var json = BeginEvent("content_block_start");
        json.WriteStartObject();
        json.WriteString("type", "content_block_start");
        json.WriteNumber("index", _index);
        json.WriteStartObject("content_block");
        json.WriteString("type", "tool_use");
        json.WriteString("id", id);
        json.WriteString("name", name);
        json.WriteStartObject("input");
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
        EndEvent();
    }

    public override void ToolArguments(string json)
    {
        if (Ended || _block != Block.Tool || json.Length == 0)
        {
            return;
        }
        var writer = BeginEvent("content_block_delta");
        writer.WriteStartObject();
        writer.WriteString("type", "content_block_delta");
        writer.WriteNumber("index", _index);
        writer.WriteStartObject("delta");
        writer.WriteString("type", "input_json_delta");
        writer.WriteString("partial_json", json);
        writer.WriteEndObject();
        writer.WriteEndObject();
        EndEvent();
    }

    public override void Usage(in TokenUsage usage) => _usage.Merge(usage);

    public override void End()
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        CloseBlock();
        var json = BeginEvent("message_delta");
        json.WriteStartObject();
        json.WriteString("type", "message_delta");
        json.WriteStartObject("delta");
        json.WriteString("stop_reason", StopReasons.Anthropic(Reason));
        json.WriteNull("stop_sequence");
        json.WriteEndObject();
        _usage.WriteAnthropic(json);
        json.WriteEndObject();
        EndEvent();
        var stop = BeginEvent("message_stop");
        stop.WriteStartObject();
        stop.WriteString("type", "message_stop");
        stop.WriteEndObject();
        EndEvent();
        Ended = true;
    }

    public override void Error(string type, string message)
    {
        if (Ended)
        {
            return;
        }
        var json = BeginEvent("error");
        json.WriteStartObject();
        json.WriteString("type", "error");
        json.WriteStartObject("error");
        json.WriteString("type", type);
        json.WriteString("message", message);
        json.WriteEndObject();
        json.WriteEndObject();
        EndEvent();
        Ended = true;
    }

    private void EnsureStarted()
    {
        if (!_started)
        {
            Start(null, null, default);
        }
    }

    private void CloseBlock()
    {
        if (_block == Block.None)
        {
            return;
        }
        var json = BeginEvent("content_block_stop");
        json.WriteStartObject();
        json.WriteString("type", "content_block_stop");
        json.WriteNumber("index", _index);
        json.WriteEndObject();
        EndEvent();
        _block = Block.None;
    }
}
