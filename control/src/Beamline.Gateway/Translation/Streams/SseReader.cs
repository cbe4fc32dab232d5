using System.Buffers;

namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// Reads server-sent events from chunks split at any byte: lines end in <c>\n</c>, <c>\r\n</c> or
/// <c>\r</c>, an event ends at a blank line, <c>data:</c> lines join with <c>\n</c>, comments
/// (<c>:</c>) and unknown fields are skipped. What a chunk leaves unfinished waits for the next.
/// </summary>
internal sealed class SseReader
{
    private readonly ArrayBufferWriter<byte> _pending = new(1024);
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private string? _event;
    private bool _hasData;

    /// <summary>Called with each complete event: its <c>event:</c> name (or null) and its data.</summary>
    public delegate void EventHandler(string? name, ReadOnlySpan<byte> data);

    /// <summary>Reads <paramref name="chunk"/>, calling <paramref name="handler"/> for each event it completes.</summary>
    public void Push(ReadOnlySpan<byte> chunk, EventHandler handler)
    {
        ReadOnlySpan<byte> text;
        if (_pending.WrittenCount == 0)
        {
            text = chunk;
        }
        else
        {
            _pending.Write(chunk);
            text = _pending.WrittenSpan;
        }
        var consumed = ReadLines(text, handler, final: false);
        var rest = text[consumed..];
        if (_pending.WrittenCount == 0)
        {
            _pending.Write(rest);
        }
        else if (consumed > 0)
        {
            // Keep the tail: copy it to the start (it is never longer than one line).
            var tail = rest.ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(tail);
        }
    }

    /// <summary>Reads what is left as if the stream ended with a blank line.</summary>
    public void Finish(EventHandler handler)
    {
        ReadLines(_pending.WrittenSpan, handler, final: true);
        _pending.ResetWrittenCount();
        Dispatch(handler);
    }

    private int ReadLines(ReadOnlySpan<byte> text, EventHandler handler, bool final)
    {
        var position = 0;
        while (position < text.Length)
        {
            var rest = text[position..];
            var end = rest.IndexOfAny((byte)'\n', (byte)'\r');
            if (end < 0)
            {
                if (!final)
                {
                    break;
                }
                Line(rest, handler);
                return text.Length;
            }
            var length = end + 1;
            if (rest[end] == (byte)'\r')
            {
                if (end + 1 == rest.Length && !final)
                {
                    break; // a \r at the end may be the first half of \r\n
                }
                if (end + 1 < rest.Length && rest[end + 1] == (byte)'\n')
                {
                    length++;
                }
            }
            Line(rest[..end], handler);
            position += length;
        }
        return position;
    }

    private void Line(ReadOnlySpan<byte> line, EventHandler handler)
    {
        if (line.IsEmpty)
        {
            Dispatch(handler);
            return;
        }
        if (line[0] == (byte)':')
        {
            return;
        }
        var colon = line.IndexOf((byte)':');
        var field = colon < 0 ? line : line[..colon];
        var value = colon < 0 ? [] : line[(colon + 1)..];
        if (!value.IsEmpty && value[0] == (byte)' ')
        {
            value = value[1..];
        }
        if (field.SequenceEqual("data"u8))
        {
            if (_hasData)
            {
                _data.Write("\n"u8);
            }
            _data.Write(value);
            _hasData = true;
        }
        else if (field.SequenceEqual("event"u8))
        {
            _event = System.Text.Encoding.UTF8.GetString(value);
        }
    }

    private void Dispatch(EventHandler handler)
    {
        if (_hasData)
        {
            handler(_event, _data.WrittenSpan);
        }
        _event = null;
        _hasData = false;
        _data.ResetWrittenCount();
    }
}
