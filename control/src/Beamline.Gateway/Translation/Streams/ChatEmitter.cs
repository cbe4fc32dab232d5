using System.Text.Json;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// OpenAI <c>chat.completion.chunk</c> events: the role, content deltas, <c>tool_calls</c> deltas
/// (the first of a call with its index, id and name, then its arguments), the finish chunk, a
/// usage chunk (empty <c>choices</c>) when the usage is known, and <c>data: [DONE]</c>.
/// </summary>
internal sealed class ChatEmitter(string? clientModel, long created) : StreamEmitter(clientModel)
{
    private bool _started;
    private bool _finished;
    private string _id = "chatcmpl-" + Guid.NewGuid().ToString("N");
    private string _model = clientModel ?? string.Empty;
    private int _tool = -1;
    private TokenUsage _usage;

    public override void Start(string? id, string? model, in TokenUsage usage)
    {
        if (_started || Ended)
        {
            return;
        }
        _started = true;
        _id = id ?? _id;
        _model = ClientModel ?? model ?? string.Empty;
        _usage.Merge(usage);
        var json = Begin();
        json.WriteString("role", "assistant");
        json.WriteString("content", string.Empty);
        Close(json, null);
    }

    public override void Text(string text)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        var json = Begin();
        json.WriteString("content", text);
        Close(json, null);
    }

    public override void ToolStart(string id, string name)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        _tool++;
        var json = Begin();
        json.WriteStartArray("tool_calls");
        json.WriteStartObject();
        json.WriteNumber("index", _tool);
        json.WriteString("id", id);
        json.WriteString("type", "function");
        json.WriteStartObject("function");
        json.WriteString("name", name);
        json.WriteString("arguments", string.Empty);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        Close(json, null);
    }

    public override void ToolArguments(string json)
    {
        if (Ended || _tool < 0 || json.Length == 0)
        {
            return;
        }
        var writer = Begin();
        writer.WriteStartArray("tool_calls");
        writer.WriteStartObject();
        writer.WriteNumber("index", _tool);
        writer.WriteStartObject("function");
        writer.WriteString("arguments", json);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndArray();
        Close(writer, null);
    }

    protected override void OnStop()
    {
        if (Ended || _finished)
        {
            return;
        }
        EnsureStarted();
        _finished = true;
        Close(Begin(), StopReasons.OpenAI(Reason));
    }

    public override void Usage(in TokenUsage usage) => _usage.Merge(usage);

    public override void End()
    {
        if (Ended)
        {
            return;
        }
        if (!_finished)
        {
            Stop(StopReason.Stop);
        }
        if (_usage.Known)
        {
            var json = BeginEvent(null);
            json.WriteStartObject();
            Head(json);
            json.WriteStartArray("choices");
            json.WriteEndArray();
            _usage.WriteOpenAI(json);
            json.WriteEndObject();
            EndEvent();
        }
        WriteRaw("data: [DONE]\n\n"u8);
        Ended = true;
    }

    public override void Error(string type, string message)
    {
        if (Ended)
        {
            return;
        }
        var json = BeginEvent(null);
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", message);
        json.WriteString("type", OpenAIErrorType(type));
        json.WriteNull("param");
        json.WriteString("code", type);
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

    private void Head(Utf8JsonWriter json)
    {
        json.WriteString("id", _id);
        json.WriteString("object", "chat.completion.chunk");
        json.WriteNumber("created", created);
        json.WriteString("model", _model);
    }

    // A chunk up to its delta's members; End closes it with the finish reason.
    private Utf8JsonWriter Begin()
    {
        var json = BeginEvent(null);
        json.WriteStartObject();
        Head(json);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        return json;
    }

    private void Close(Utf8JsonWriter json, string? finish)
    {
        json.WriteEndObject();
        json.WriteNull("logprobs");
        if (finish is null)
        {
            json.WriteNull("finish_reason");
        }
        else
        {
            json.WriteString("finish_reason", finish);
        }
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        EndEvent();
    }
}
