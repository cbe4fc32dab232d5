using System.Text;
using System.Text.Json;
using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using DiffPlex.Renderer;

namespace Beamline.Host.Replay;

/// <summary>
/// What a replay compares: the text of an answer (its message text, as <see cref="PayloadText"/>
/// finds it in the OpenAI and Anthropic shapes — an answer's id and timestamps differ on every
/// call and say nothing), and the unified diff of two such texts.
/// </summary>
internal static class ReplayText
{
    /// <summary>The lines of context around each change in a diff.</summary>
    public const int ContextLines = 3;

    /// <summary>
    /// The message text of a whole answer, pieces (choices, content blocks) one per line; the
    /// answer as UTF-8 text when it holds no message text (an embedding, a CP1 payload) or is not JSON.
    /// </summary>
    public static string OfAnswer(ReadOnlyMemory<byte> answer)
    {
        if (answer.IsEmpty)
        {
            return string.Empty;
        }
        var pieces = new Pieces(separator: "\n");
        try
        {
            PayloadText.Visit(answer, PayloadKind.Json, ref pieces);
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(answer.Span);
        }
        return pieces.Count == 0 ? Encoding.UTF8.GetString(answer.Span) : pieces.ToString();
    }

    /// <summary>Reads a streamed answer's text, chunk by chunk, with the stream codec that reads its format.</summary>
    public sealed class StreamReader(IEnumerable<IStreamTextCodec> codecs)
    {
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _raw = new();
        private IStreamTextSession? _session;
        private bool _unread;

        /// <summary>Reads one chunk of the stream.</summary>
        public void Push(in ExecuteStreamItem item)
        {
            if (_session is null && !_unread)
            {
                foreach (var codec in codecs)
                {
                    if ((_session = codec.Begin(item.Format)) is not null)
                    {
                        break;
                    }
                }
                _unread = _session is null;
            }
            if (_session is null)
            {
                _raw.Append(Encoding.UTF8.GetString(item.Chunk.Span));
                return;
            }
            Append(_session.Push(item.Chunk.Span));
        }

        /// <summary>The stream's text: what its text events carried, else its bytes as text.</summary>
        public string Finish()
        {
            if (_session is not null)
            {
                Append(_session.Complete());
                return _text.ToString();
            }
            return _raw.ToString();
        }

        private void Append(IReadOnlyList<StreamTextEvent> events)
        {
            foreach (var textEvent in events)
            {
                _text.Append(textEvent.Text);
            }
        }
    }

    /// <summary>
    /// The unified diff (<c>---</c>/<c>+++</c> headers, <c>@@</c> hunks with <see cref="ContextLines"/>
    /// lines of context) from <paramref name="original"/> to <paramref name="replay"/>; empty when they are equal.
    /// </summary>
    public static string Diff(string original, string replay, string originalName, string replayName)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(replay);
        if (string.Equals(original, replay, StringComparison.Ordinal))
        {
            return string.Empty;
        }
        return UnidiffRenderer.GenerateUnidiff(original, replay, originalName, replayName, ignoreWhitespace: false, ignoreCase: false, ContextLines);
    }

    private struct Pieces(string separator) : ITextVisitor
    {
        private StringBuilder? _builder;

        public int Count { get; private set; }

        public void Visit(ReadOnlySpan<char> text)
        {
            _builder ??= new StringBuilder();
            if (Count++ > 0)
            {
                _builder.Append(separator);
            }
            _builder.Append(text);
        }

        public override readonly string ToString() => _builder?.ToString() ?? string.Empty;
    }
}
