using Beamline.Pipeline;

namespace Beamline.Gateway.Translation;

/// <summary>
/// Translations between the OpenAI Chat Completions and Anthropic Messages shapes (SKELETON:
/// the cross-format work fills it in): requests, whole answers, and streamed events.
/// </summary>
public static class CrossFormat
{
    /// <summary>Whether a request in <paramref name="from"/> can be translated to <paramref name="to"/>.</summary>
    public static bool CanTranslateRequest(WireFormat from, WireFormat to) => false;

    /// <summary>Translates a request body.</summary>
    public static byte[] TranslateRequest(ReadOnlySpan<byte> body, WireFormat from, WireFormat to, string? upstreamModel)
        => throw new GatewayFormatException($"a {from} request cannot be sent to a {to} provider yet");

    /// <summary>Translates a whole answer.</summary>
    public static byte[] TranslateAnswer(ReadOnlySpan<byte> answer, WireFormat from, WireFormat to, string? clientModel)
        => throw new GatewayFormatException($"a {from} answer cannot be given to a {to} client yet");

    /// <summary>
    /// A translator of one streamed answer from <paramref name="from"/>'s server-sent events to
    /// <paramref name="to"/>'s (the same format: the events pass through).
    /// </summary>
    public static IStreamTranslator StreamTranslator(WireFormat from, WireFormat to, string? clientModel)
        => from == to ? PassThrough.Instance : throw new GatewayFormatException($"a {from} stream cannot be given to a {to} client yet");

    /// <summary>A whole answer as the events of a stream in <paramref name="to"/>'s format (a provider that cannot stream).</summary>
    public static byte[] AnswerAsEvents(ReadOnlySpan<byte> answer, WireFormat from, WireFormat to, string? clientModel)
        => throw new GatewayFormatException($"a whole {from} answer cannot be streamed to a {to} client yet");

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
    /// <summary>The client's events for what this chunk completes (possibly empty).</summary>
    ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk);

    /// <summary>What is left at the end of the stream (possibly empty).</summary>
    ReadOnlyMemory<byte> Finish();
}
