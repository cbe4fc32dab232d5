using System.Buffers;
using System.Text.Json;
using Beamline.Gateway.Translation.Answers;
using Beamline.Gateway.Translation.Requests;
using Beamline.Gateway.Translation.Streams;
using Beamline.Pipeline;

namespace Beamline.Gateway.Translation;

/// <summary>
/// Translations between the OpenAI Chat Completions, OpenAI Responses and Anthropic Messages
/// shapes: requests (Chat ↔ Messages, Responses → Chat or Messages), whole answers and streamed
/// answers (Chat or Messages → any of the three). Each direction carries what both sides can say
/// and drops what only one side has (the translators' docs list it); the same format is never
/// translated, so that fields Beamline does not interpret pass through unchanged.
/// </summary>
public static class CrossFormat
{
    /// <summary>Whether a request in <paramref name="from"/> can be translated to <paramref name="to"/>.</summary>
    public static bool CanTranslateRequest(WireFormat from, WireFormat to) => (from, to) is
        (WireFormat.OpenAIChat, WireFormat.AnthropicMessages)
        or (WireFormat.AnthropicMessages, WireFormat.OpenAIChat)
        or (WireFormat.OpenAIResponses, WireFormat.OpenAIChat)
        or (WireFormat.OpenAIResponses, WireFormat.AnthropicMessages);

    /// <summary>Whether an answer (whole or streamed) in <paramref name="from"/> can be given to a <paramref name="to"/> client.</summary>
    public static bool CanTranslateAnswer(WireFormat from, WireFormat to)
        => from == to || (from is WireFormat.OpenAIChat or WireFormat.AnthropicMessages && to is WireFormat.OpenAIChat or WireFormat.AnthropicMessages or WireFormat.OpenAIResponses);

    /// <summary>
    /// Translates a request body; <paramref name="upstreamModel"/> replaces the client's model
    /// (null keeps it). Throws <see cref="GatewayFormatException"/> for a body it cannot read.
    /// </summary>
    public static byte[] TranslateRequest(ReadOnlySpan<byte> body, WireFormat from, WireFormat to, string? upstreamModel)
    {
        if (!CanTranslateRequest(from, to))
        {
            throw new GatewayFormatException($"a {from} request cannot be sent to a {to} provider");
        }
        using var document = Json.ParseObject(body, "request body");
        var root = document.RootElement;
        if (from == WireFormat.OpenAIResponses && to == WireFormat.AnthropicMessages)
        {
            var chat = Write(body.Length, root, upstreamModel, ResponsesToChat.Write);
            using var chatDocument = JsonDocument.Parse(chat);
            return Write(chat.Length, chatDocument.RootElement, null, ChatToAnthropic.Write);
        }
        return (from, to) switch
        {
            (WireFormat.OpenAIChat, _) => Write(body.Length, root, upstreamModel, ChatToAnthropic.Write),
            (WireFormat.AnthropicMessages, _) => Write(body.Length, root, upstreamModel, AnthropicToChat.Write),
            _ => Write(body.Length, root, upstreamModel, ResponsesToChat.Write),
        };
    }

    /// <summary>Translates a whole answer; <paramref name="clientModel"/> is the model the answer names (null: the upstream's).</summary>
    public static byte[] TranslateAnswer(ReadOnlySpan<byte> answer, WireFormat from, WireFormat to, string? clientModel)
    {
        if (from == to)
        {
            return answer.ToArray();
        }
        var neutral = ReadAnswer(answer, from, to);
        var buffer = new ArrayBufferWriter<byte>(answer.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, Json.WriterOptions))
        {
            switch (to)
            {
                case WireFormat.OpenAIChat:
                    ChatAnswer.Write(writer, neutral, clientModel);
                    break;
                case WireFormat.AnthropicMessages:
                    AnthropicAnswer.Write(writer, neutral, clientModel);
                    break;
                default:
                    ResponsesAnswer.Write(writer, neutral, clientModel);
                    break;
            }
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A translator of one streamed answer from <paramref name="from"/>'s server-sent events to
    /// <paramref name="to"/>'s (the same format: the events pass through). What its
    /// <see cref="IStreamTranslator.Push"/> returns is valid until its next call.
    /// </summary>
    public static IStreamTranslator StreamTranslator(WireFormat from, WireFormat to, string? clientModel)
    {
        if (from == to)
        {
            return PassThrough.Instance;
        }
        if (!CanTranslateAnswer(from, to))
        {
            throw new GatewayFormatException($"a {from} stream cannot be given to a {to} client");
        }
        var emitter = Emitter(to, clientModel);
        UpstreamReader reader = from == WireFormat.AnthropicMessages ? new AnthropicStreamReader(emitter) : new ChatStreamReader(emitter);
        return new TranslatingStream(emitter, reader);
    }

    /// <summary>A whole answer as the events of a stream in <paramref name="to"/>'s format (a provider that cannot stream).</summary>
    public static byte[] AnswerAsEvents(ReadOnlySpan<byte> answer, WireFormat from, WireFormat to, string? clientModel)
    {
        var neutral = ReadAnswer(answer, from, to);
        var emitter = Emitter(to, clientModel);
        emitter.Play(neutral);
        return emitter.Output.ToArray();
    }

    private static StreamEmitter Emitter(WireFormat to, string? clientModel) => to switch
    {
        WireFormat.AnthropicMessages => new AnthropicEmitter(clientModel),
        WireFormat.OpenAIChat => new ChatEmitter(clientModel, DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        WireFormat.OpenAIResponses => new ResponsesEmitter(clientModel, DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        _ => throw new GatewayFormatException($"a {to} client cannot be given a translated answer"),
    };

    private static NeutralAnswer ReadAnswer(ReadOnlySpan<byte> answer, WireFormat from, WireFormat to)
    {
        if (!CanTranslateAnswer(from, to) || from is not (WireFormat.OpenAIChat or WireFormat.AnthropicMessages))
        {
            throw new GatewayFormatException($"a {from} answer cannot be given to a {to} client");
        }
        using var document = Json.ParseObject(answer, "provider's answer");
        return from == WireFormat.AnthropicMessages ? AnthropicAnswer.Read(document.RootElement) : ChatAnswer.Read(document.RootElement);
    }

    private static byte[] Write(int size, JsonElement root, string? upstreamModel, Action<Utf8JsonWriter, JsonElement, string?> write)
    {
        var buffer = new ArrayBufferWriter<byte>(size + 256);
        using (var writer = new Utf8JsonWriter(buffer, Json.WriterOptions))
        {
            write(writer, root, upstreamModel);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class PassThrough : IStreamTranslator
    {
        public static PassThrough Instance { get; } = new();

        public ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk) => chunk;

        public ReadOnlyMemory<byte> Finish() => default;
    }
}

/// <summary>
/// Translates one stream of server-sent events, chunk by chunk: events may be split across
/// chunks, so a translator keeps the unfinished tail until the next push.
/// </summary>
public interface IStreamTranslator
{
    /// <summary>The client's events for what this chunk completes (possibly empty); valid until the next call.</summary>
    ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk);

    /// <summary>What is left at the end of the stream (possibly empty).</summary>
    ReadOnlyMemory<byte> Finish();
}
