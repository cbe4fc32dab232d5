using System.Buffers;
using System.Text.Json;
using Beamline.Gateway.Translation.Answers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// Writes one answer as a client's server-sent events, told what happens in neutral terms (the
/// stream readers of each upstream format, or a whole answer, tell it). Stateful: it opens and
/// closes the content blocks or items its format has, and ends the stream once.
/// </summary>
internal abstract class StreamEmitter
{
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private readonly Utf8JsonWriter _json;

    protected StreamEmitter(string? clientModel)
    {
        ClientModel = clientModel;
        _json = new Utf8JsonWriter(_output, new JsonWriterOptions { SkipValidation = true, Encoder = Json.WriterOptions.Encoder });
    }

    protected string? ClientModel { get; }

    /// <summary>Whether the stream was ended (by its end, or by an error).</summary>
    public bool Ended { get; protected set; }

    /// <summary>Whether the upstream said why the answer stopped.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The events written since <see cref="ResetOutput"/>; valid until the next reset.</summary>
    public ReadOnlyMemory<byte> Output => _output.WrittenMemory;

    public void ResetOutput() => _output.ResetWrittenCount();

    public abstract void Start(string? id, string? model, in TokenUsage usage);

    public abstract void Text(string text);

    public abstract void ToolStart(string id, string name);

    public abstract void ToolArguments(string json);

    /// <summary>Why the answer stopped (<see cref="StopReason.None"/> until the upstream says).</summary>
    protected StopReason Reason { get; private set; }

    public void Stop(StopReason reason)
    {
        Stopped = true;
        Reason = reason;
        OnStop();
    }

    protected virtual void OnStop()
    {
    }

    public abstract void Usage(in TokenUsage usage);

    public abstract void End();

    /// <summary>An error: <paramref name="type"/> in Anthropic's vocabulary (<c>overloaded_error</c>, …).</summary>
    public abstract void Error(string type, string message);

    /// <summary>The stream ended: an answer that said why it stopped is ended if its end event never came.</summary>
    public void Finish()
    {
        if (!Ended && Stopped)
        {
            End();
        }
    }

    /// <summary>Plays a whole answer as a stream.</summary>
    public void Play(NeutralAnswer answer)
    {
        Start(answer.Id, answer.Model, answer.Usage);
        foreach (var part in answer.Parts)
        {
            if (part.IsToolCall)
            {
                ToolStart(part.Id ?? "call_" + Guid.NewGuid().ToString("N"), part.Name ?? string.Empty);
                if (part.Content.Length > 0)
                {
                    ToolArguments(part.Content.ToString());
                }
            }
            else if (part.Content.Length > 0)
            {
                Text(part.Content.ToString());
            }
        }
        Usage(answer.Usage);
        Stop(answer.Stop == StopReason.None ? StopReason.Stop : answer.Stop);
        End();
    }

    /// <summary>Starts an event: <c>event: name</c> (when named) and <c>data: </c>; the JSON follows.</summary>
    protected Utf8JsonWriter BeginEvent(string? name)
    {
        if (name is not null)
        {
            _output.Write("event: "u8);
            var span = _output.GetSpan(name.Length * 3);
            var written = System.Text.Encoding.UTF8.GetBytes(name, span);
            _output.Advance(written);
            _output.Write("\n"u8);
        }
        _output.Write("data: "u8);
        _json.Reset(_output);
        return _json;
    }

    protected void EndEvent()
    {
        _json.Flush();
        _output.Write("\n\n"u8);
    }

    protected void WriteRaw(ReadOnlySpan<byte> bytes) => _output.Write(bytes);

    /// <summary>OpenAI's <c>error.type</c> for an Anthropic one.</summary>
    protected static string OpenAIErrorType(string anthropicType) => anthropicType switch
    {
        "invalid_request_error" or "not_found_error" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "rate_limit_error" => "rate_limit_error",
        "overloaded_error" => "service_unavailable",
        "timeout_error" => "timeout",
        _ => "api_error",
    };

    /// <summary>Anthropic's <c>error.type</c> for an OpenAI one (or its code).</summary>
    public static string AnthropicErrorType(string? openAIType) => openAIType switch
    {
        "invalid_request_error" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "rate_limit_error" or "rate_limit_exceeded" or "insufficient_quota" => "rate_limit_error",
        "service_unavailable" or "overloaded" => "overloaded_error",
        "timeout" => "timeout_error",
        _ => "api_error",
    };
}
