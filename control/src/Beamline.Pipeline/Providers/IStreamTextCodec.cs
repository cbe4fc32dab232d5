using System.Buffers;

namespace Beamline.Pipeline.Providers;

/// <summary>
/// Reads the answer's text out of a provider's streamed chunks and writes the chunks back with
/// that text rewritten, so that post extensions over a stream see text, not the API's framing
/// (server-sent events of JSON). The gateway registers one for the OpenAI and Anthropic formats;
/// a stream in a format no codec reads goes to the post extensions as raw text.
/// </summary>
public interface IStreamTextCodec
{
    /// <summary>Starts reading one stream in <paramref name="format"/>, or returns null when this codec does not read it.</summary>
    IStreamTextSession? Begin(WireFormat format);
}

/// <summary>
/// One stream being read (from <see cref="IStreamTextCodec.Begin"/>): chunks in, events out.
/// Events may be split across chunks at any byte. One stream, one caller at a time: not thread-safe.
/// </summary>
public interface IStreamTextSession
{
    /// <summary>Reads <paramref name="chunk"/> and returns the events it completes, in order; the list is valid until the next call.</summary>
    IReadOnlyList<StreamTextEvent> Push(ReadOnlySpan<byte> chunk);

    /// <summary>The provider's stream ended: returns the events that what is left completes.</summary>
    IReadOnlyList<StreamTextEvent> Complete();

    /// <summary>
    /// Writes one more text event in the stream's shape (the same id, model and index as its
    /// text events) holding <paramref name="text"/>: what post extensions held back until the stream ended.
    /// </summary>
    void WriteText(string text, IBufferWriter<byte> output);
}

/// <summary>One event of a stream read by an <see cref="IStreamTextSession"/>.</summary>
public abstract class StreamTextEvent
{
    /// <summary>The text this event adds to the answer, or null when it carries none (it is then written as it came).</summary>
    public string? Text { get; init; }

    /// <summary>
    /// Whether the answer's text, or a run of it (a content block, the text before a tool call),
    /// ends with this event: what post extensions hold back must be written in it (see <see cref="WriteTo"/>).
    /// </summary>
    public bool EndsText { get; init; }

    /// <summary>
    /// Writes the event, its text replaced by <paramref name="text"/>. An event without text of its
    /// own that <see cref="EndsText"/> writes a non-empty <paramref name="text"/> (what was held
    /// back) as one more text event before itself; any other event ignores it.
    /// </summary>
    public abstract void WriteTo(IBufferWriter<byte> output, string? text);
}
