using System.Text;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.BuiltIn.Pii;

/// <summary>Masks PII in a whole text: each entity becomes its type's token.</summary>
internal readonly struct PiiMasker(PiiOptions options) : ITextRewriter
{
    /// <summary>The masked text, or null when <paramref name="text"/> holds no entity.</summary>
    public string? Rewrite(ReadOnlySpan<char> text)
    {
        var sink = new MaskSink(text, 0, options.Tokens);
        PiiScanner.Scan(text, 0, text.Length, options.Types, ref sink);
        return sink.Changed ? sink.Finish(text.Length) : null;
    }
}

/// <summary>Copies the text up to each entity and writes the entity's token instead.</summary>
internal ref struct MaskSink(ReadOnlySpan<char> text, int start, string[] tokens) : IPiiSink
{
    private readonly ReadOnlySpan<char> _text = text;
    private readonly int _start = start;
    private int _copied = start;
    private StringBuilder? _builder;

    /// <summary>Whether an entity was found.</summary>
    public readonly bool Changed => _builder is not null;

    public void OnMatch(in PiiMatch match)
    {
        _builder ??= new StringBuilder(_text.Length - _start + 16);
        _builder.Append(_text[_copied..match.Start]).Append(tokens[PiiTypeNames.IndexOf(match.Type)]);
        _copied = match.End;
    }

    /// <summary>The masked text of <c>[start, end)</c>.</summary>
    public readonly string Finish(int end)
    {
        if (_builder is null)
        {
            return end == _start ? string.Empty : new string(_text[_start..end]);
        }

        return _builder.Append(_text[_copied..end]).ToString();
    }
}

/// <summary>
/// Masks one stream's text chunk by chunk. It holds back at most <see cref="PiiScanner.Lookahead"/>
/// (128) characters: a start position is decided only once the 128 characters from it are known
/// (or at the end), which is all any detector reads, so an entity split across chunks at any offset
/// is masked, and the outputs concatenated equal masking the whole text at once.
/// </summary>
internal sealed class PiiStreamMasker(PiiOptions options) : IStreamRewriter
{
    // _buffer[0.._start) is context (the last character already sent, 0 or 1 of them);
    // _buffer[_start.._length) is held back, undecided.
    private char[] _buffer = new char[2 * PiiScanner.Lookahead];
    private int _start;
    private int _length;

    /// <summary>How many characters are held back now (at most <see cref="PiiScanner.Lookahead"/>).</summary>
    internal int HeldBack => _length - _start;

    public string Push(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Append(text);
        int stop = _length - PiiScanner.Lookahead;
        return stop <= _start ? string.Empty : Emit(stop);
    }

    public string Flush()
    {
        string rest = _length == _start ? string.Empty : Emit(_length);
        _start = 0;
        _length = 0;
        return rest;
    }

    /// <summary>Decides the positions before <paramref name="stop"/>, returns their masked text and keeps the rest.</summary>
    private string Emit(int stop)
    {
        var text = _buffer.AsSpan(0, _length);
        var sink = new MaskSink(text, _start, options.Tokens);
        int decided = PiiScanner.Scan(text, _start, stop, options.Types, ref sink);
        string output = sink.Finish(decided);

        // Keep the last decided character as the next scan's context.
        int keepFrom = decided - 1;
        _buffer.AsSpan(keepFrom, _length - keepFrom).CopyTo(_buffer);
        _length -= keepFrom;
        _start = 1;
        return output;
    }

    private void Append(string text)
    {
        if (_length + text.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + text.Length));
        }

        text.CopyTo(_buffer.AsSpan(_length));
        _length += text.Length;
    }
}
