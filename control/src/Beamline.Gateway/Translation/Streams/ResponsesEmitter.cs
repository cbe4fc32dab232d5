using System.Text.Json;
using Beamline.Gateway.Translation.Answers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// OpenAI Responses events, each with its <c>sequence_number</c>: <c>response.created</c> and
/// <c>response.in_progress</c>; per text run a <c>message</c> item (<c>output_item.added</c>,
/// <c>content_part.added</c>, <c>output_text.delta</c>…, <c>output_text.done</c>,
/// <c>content_part.done</c>, <c>output_item.done</c>); per tool call a <c>function_call</c> item
/// with <c>function_call_arguments.delta</c>/<c>.done</c>; then <c>response.completed</c> (or
/// <c>response.incomplete</c>) holding the whole response with its usage.
/// </summary>
internal sealed class ResponsesEmitter(string? clientModel, long created) : StreamEmitter(clientModel)
{
    private readonly NeutralAnswer _answer = new() { Created = created };
    private string _id = ResponsesAnswer.ResponseId(null);
    private string? _model = clientModel;
    private bool _started;
    private AnswerPart? _open;
    private string _openId = string.Empty;
    private int _messages;
    private int _sequence;

    public override void Start(string? id, string? model, in TokenUsage usage)
    {
        if (_started || Ended)
        {
            return;
        }
        _started = true;
        _id = ResponsesAnswer.ResponseId(id);
        _answer.Id = id;
        _model = ClientModel ?? model;
        _answer.Usage.Merge(usage);
        foreach (var type in (ReadOnlySpan<string>)["response.created", "response.in_progress"])
        {
            var json = Begin(type);
            json.WritePropertyName("response");
            ResponsesAnswer.WriteObject(json, _id, created, _model, "in_progress", null, includeUsage: false);
            Complete(json);
        }
    }

    public override void Text(string text)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        if (_open is not { IsToolCall: false })
        {
            CloseItem();
            _open = new AnswerPart();
            _openId = ResponsesAnswer.MessageId(_id, _messages++);
            var added = Begin("response.output_item.added");
            added.WriteNumber("output_index", _answer.Parts.Count);
            added.WritePropertyName("item");
            ResponsesAnswer.WriteMessage(added, _openId, null, "in_progress");
            Complete(added);
            var part = Begin("response.content_part.added");
            ItemHead(part);
            part.WriteNumber("content_index", 0);
            part.WritePropertyName("part");
            ResponsesAnswer.WriteOutputText(part, string.Empty);
            Complete(part);
        }
        _open.Content.Append(text);
        var json = Begin("response.output_text.delta");
        ItemHead(json);
        json.WriteNumber("content_index", 0);
        json.WriteString("delta", text);
        json.WriteStartArray("logprobs");
        json.WriteEndArray();
        Complete(json);
    }

    public override void ToolStart(string id, string name)
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        CloseItem();
        _open = new AnswerPart { IsToolCall = true, Id = id, Name = name };
        _openId = ResponsesAnswer.FunctionCallId(id);
        var json = Begin("response.output_item.added");
        json.WriteNumber("output_index", _answer.Parts.Count);
        json.WritePropertyName("item");
        ResponsesAnswer.WriteFunctionCall(json, _open, "in_progress");
        Complete(json);
    }

    public override void ToolArguments(string json)
    {
        if (Ended || _open is not { IsToolCall: true } || json.Length == 0)
        {
            return;
        }
        _open.Content.Append(json);
        var writer = Begin("response.function_call_arguments.delta");
        ItemHead(writer);
        writer.WriteString("delta", json);
        Complete(writer);
    }

    public override void Usage(in TokenUsage usage) => _answer.Usage.Merge(usage);

    public override void End()
    {
        if (Ended)
        {
            return;
        }
        EnsureStarted();
        CloseItem();
        _answer.Stop = Reason == StopReason.None ? StopReason.Stop : Reason;
        var incomplete = _answer.Stop is StopReason.Length or StopReason.ContentFilter;
        var json = Begin(incomplete ? "response.incomplete" : "response.completed");
        json.WritePropertyName("response");
        ResponsesAnswer.WriteObject(json, _id, created, _model, incomplete ? "incomplete" : "completed", _answer, includeUsage: true);
        Complete(json);
        Ended = true;
    }

    public override void Error(string type, string message)
    {
        if (Ended)
        {
            return;
        }
        var json = Begin("error");
        json.WriteString("code", type);
        json.WriteString("message", message);
        json.WriteNull("param");
        Complete(json);
        Ended = true;
    }

    private void EnsureStarted()
    {
        if (!_started)
        {
            Start(null, null, default);
        }
    }

    private void CloseItem()
    {
        if (_open is null)
        {
            return;
        }
        var index = _answer.Parts.Count;
        if (_open.IsToolCall)
        {
            var done = Begin("response.function_call_arguments.done");
            ItemHead(done);
            done.WriteString("arguments", _open.Content.ToString());
            Complete(done);
            var item = Begin("response.output_item.done");
            item.WriteNumber("output_index", index);
            item.WritePropertyName("item");
            ResponsesAnswer.WriteFunctionCall(item, _open, "completed");
            Complete(item);
        }
        else
        {
            var text = _open.Content.ToString();
            var done = Begin("response.output_text.done");
            ItemHead(done);
            done.WriteNumber("content_index", 0);
            done.WriteString("text", text);
            done.WriteStartArray("logprobs");
            done.WriteEndArray();
            Complete(done);
            var part = Begin("response.content_part.done");
            ItemHead(part);
            part.WriteNumber("content_index", 0);
            part.WritePropertyName("part");
            ResponsesAnswer.WriteOutputText(part, text);
            Complete(part);
            var item = Begin("response.output_item.done");
            item.WriteNumber("output_index", index);
            item.WritePropertyName("item");
            ResponsesAnswer.WriteMessage(item, _openId, text, "completed");
            Complete(item);
        }
        _answer.Parts.Add(_open);
        _open = null;
    }

    private void ItemHead(Utf8JsonWriter json)
    {
        json.WriteString("item_id", _openId);
        json.WriteNumber("output_index", _answer.Parts.Count);
    }

    private Utf8JsonWriter Begin(string type)
    {
        var json = BeginEvent(type);
        json.WriteStartObject();
        json.WriteString("type", type);
        json.WriteNumber("sequence_number", _sequence++);
        return json;
    }

    private void Complete(Utf8JsonWriter json)
    {
        json.WriteEndObject();
        EndEvent();
    }
}
