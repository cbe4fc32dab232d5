using System.Text;
using Beamline.Costs.Tokens;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Streams;

/// <summary>
/// Meters one streamed answer. Server-sent events (the OpenAI Chat, Responses and Anthropic
/// streams) are framed across chunk boundaries: a chunk is passed on up to its last complete
/// event, the rest held back until the next one completes it. Each event's JSON is read in place
/// for the provider's usage and the streamed text, which is counted as it passes. The usage-only
/// OpenAI chunk Beamline asked for on the client's behalf is removed. Opaque streams pass untouched
/// and their text is counted. Not thread-safe: one stream, one reader.
/// </summary>
internal sealed partial class StreamMeter : IStreamMeter
{
    private readonly Tokenizer _tokenizer;
    private readonly WireFormat _format;
    private long _promptTokens;
    private Func<long>? _countPrompt;
    private readonly bool _dropUsageEvent;
    private readonly bool _usageWanted;
    private readonly string? _quotedModel;
    private readonly TimeProvider _time;

    // The bytes of an event not yet complete, held back from the last chunk(s).
    private byte[] _held = [];
    private int _heldLength;

    // Events to leave out of what is passed on: [start, end) pairs in the span being scanned.
    private int[] _drops = new int[4];
    private int _dropCount;

    // A data field spread over several lines, joined.
    private byte[] _joined = [];

    // Opaque streams: the text decoded across chunk boundaries.
    private Decoder? _decoder;
    private char[] _chars = [];

    private long _countedOutput;
    private long? _reportedInput;
    private long? _runningOutput;
    private long? _reportedOutput;
    private long _reportedCached;

    /// <summary>A meter of an answer in <paramref name="format"/> to a request that had <paramref name="promptTokens"/> prompt tokens.</summary>
    /// <param name="tokenizer">Counts the streamed text.</param>
    /// <param name="format">The stream's format (anything but the three event streams is opaque).</param>
    /// <param name="promptTokens">The quote's prompt tokens, the input when the provider reports none.</param>
    /// <param name="dropUsageEvent">Whether the usage-only OpenAI chunk is removed (the client did not ask for it).</param>
    /// <param name="usageWanted">Whether the reader downstream expects a usage chunk (so <see cref="End"/> writes one).</param>
    /// <param name="quotedModel">The model priced, for the events <see cref="End"/> writes before the stream named one.</param>
    /// <param name="time">The clock for those events' <c>created</c>.</param>
    /// <param name="countPrompt">Counts the prompt when the quote did not (<paramref name="promptTokens"/> then stands for nothing): called only if the usage must be estimated.</param>
    public StreamMeter(Tokenizer tokenizer, WireFormat format, long promptTokens, bool dropUsageEvent, bool usageWanted, string? quotedModel, TimeProvider time,
        Func<long>? countPrompt = null)
    {
        _countPrompt = countPrompt;
        _tokenizer = tokenizer;
        _format = format is WireFormat.OpenAIChat or WireFormat.OpenAIResponses or WireFormat.AnthropicMessages ? format : WireFormat.None;
        _promptTokens = promptTokens;
        _dropUsageEvent = dropUsageEvent && _format == WireFormat.OpenAIChat;
        _usageWanted = usageWanted;
        _quotedModel = quotedModel;
        _time = time;
    }

    /// <inheritdoc />
    public long OutputTokens => _reportedOutput ?? Math.Max(_countedOutput, _runningOutput ?? 0);

    /// <inheritdoc />
    public TokenUsage Usage => _reportedInput is { } input && _reportedOutput is { } output
        ? new TokenUsage(input, output, _reportedCached)
        : new TokenUsage(_reportedInput ?? PromptTokens(), OutputTokens, _reportedCached, Estimated: true);

    private long PromptTokens()
    {
        if (_countPrompt is { } count)
        {
            _promptTokens = count();
            _countPrompt = null;
        }
        return _promptTokens;
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk)
    {
        if (_format == WireFormat.None)
        {
            CountOpaque(chunk.Span, flush: false);
            return chunk;
        }
        if (chunk.IsEmpty)
        {
            return chunk;
        }
        _dropCount = 0;
        if (_heldLength == 0)
        {
            // The hot path: events read in the caller's memory, passed on as a slice of it.
            var span = chunk.Span;
            var end = Scan(span, final: false);
            Hold(span[end..]);
            if (_dropCount == 0)
            {
                return chunk[..end];
            }
            // One event left out at either end (the usage chunk, usually before [DONE]): still a slice.
            if (_dropCount == 1 && _drops[0] == 0)
            {
                return chunk[_drops[1]..end];
            }
            if (_dropCount == 1 && _drops[1] == end)
            {
                return chunk[.._drops[0]];
            }
            return WithoutDrops(span[..end]);
        }
        Append(chunk.Span);
        var joined = _held.AsSpan(0, _heldLength);
        var complete = Scan(joined, final: false);
        // The held buffer is reused: what is passed on is a copy.
        var passed = WithoutDrops(joined[..complete]);
        var rest = _heldLength - complete;
        _held.AsSpan(complete, rest).CopyTo(_held);
        _heldLength = rest;
        return passed;
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Complete()
    {
        if (_format == WireFormat.None)
        {
            CountOpaque([], flush: true);
            return ReadOnlyMemory<byte>.Empty;
        }
        if (_heldLength == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        _dropCount = 0;
        var held = _held.AsSpan(0, _heldLength);
        Scan(held, final: true);
        var passed = WithoutDrops(held);
        _heldLength = 0;
        return passed;
    }

    /// <summary>
    /// Reads the complete events of <paramref name="text"/> (an event ends at a blank line) and
    /// returns where the last one ends; at the stream's end (<paramref name="final"/>) the rest is
    /// one last event.
    /// </summary>
    private int Scan(ReadOnlySpan<byte> text, bool final)
    {
        var position = 0;
        var eventStart = 0;
        while (position < text.Length)
        {
            var rest = text[position..];
            var lineEnd = rest.IndexOfAny((byte)'\n', (byte)'\r');
            if (lineEnd < 0)
            {
                break;
            }
            var terminator = 1;
            if (rest[lineEnd] == (byte)'\r')
            {
                if (lineEnd + 1 == rest.Length && !final)
                {
                    break; // a \r at the end may be the first half of \r\n
                }
                if (lineEnd + 1 < rest.Length && rest[lineEnd + 1] == (byte)'\n')
                {
                    terminator = 2;
                }
            }
            position += lineEnd + terminator;
            if (lineEnd == 0)
            {
                Event(text[eventStart..position], eventStart);
                eventStart = position;
            }
        }
        if (final && eventStart < text.Length)
        {
            Event(text[eventStart..], eventStart);
            return text.Length;
        }
        return eventStart;
    }

    // One event's bytes (its blank line included): its data read, and left out when it must be.
    private void Event(ReadOnlySpan<byte> bytes, int offset)
    {
        var data = Data(bytes, out var hasData);
        if (!hasData || data.SequenceEqual("[DONE]"u8))
        {
            return;
        }
        var drop = _format switch
        {
            WireFormat.OpenAIChat => ReadChatChunk(data),
            WireFormat.AnthropicMessages => ReadAnthropicEvent(data),
            _ => ReadResponsesEvent(data),
        };
        if (drop)
        {
            if (_dropCount * 2 == _drops.Length)
            {
                Array.Resize(ref _drops, _drops.Length * 2);
            }
            _drops[_dropCount * 2] = offset;
            _drops[(_dropCount * 2) + 1] = offset + bytes.Length;
            _dropCount++;
        }
    }

    // The event's data: its one data line in place, or its data lines joined with \n.
    private ReadOnlySpan<byte> Data(ReadOnlySpan<byte> bytes, out bool hasData)
    {
        hasData = false;
        ReadOnlySpan<byte> first = default;
        var joinedLength = 0;
        var lines = 0;
        while (!bytes.IsEmpty)
        {
            var end = bytes.IndexOfAny((byte)'\n', (byte)'\r');
            var line = end < 0 ? bytes : bytes[..end];
            bytes = end < 0 ? [] : bytes[(end + 1)..];
            if (!line.StartsWith("data"u8) || (line.Length > 4 && line[4] != (byte)':'))
            {
                continue;
            }
            var value = line.Length > 5 ? line[5..] : [];
            if (!value.IsEmpty && value[0] == (byte)' ')
            {
                value = value[1..];
            }
            lines++;
            if (lines == 1)
            {
                first = value;
                continue;
            }
            if (lines == 2)
            {
                EnsureJoined(first.Length + 1 + value.Length);
                first.CopyTo(_joined);
                joinedLength = first.Length;
            }
            EnsureJoined(joinedLength + 1 + value.Length);
            _joined[joinedLength++] = (byte)'\n';
            value.CopyTo(_joined.AsSpan(joinedLength));
            joinedLength += value.Length;
        }
        hasData = lines > 0;
        return lines > 1 ? _joined.AsSpan(0, joinedLength) : first;
    }

    private void EnsureJoined(int length)
    {
        if (_joined.Length < length)
        {
            Array.Resize(ref _joined, Math.Max(length, _joined.Length * 2));
        }
    }

    // What is passed on of the complete events in span: a copy, less the events dropped.
    private ReadOnlyMemory<byte> WithoutDrops(ReadOnlySpan<byte> span)
    {
        var dropped = 0;
        for (var i = 0; i < _dropCount; i++)
        {
            dropped += _drops[(i * 2) + 1] - _drops[i * 2];
        }
        if (span.Length == dropped)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        var result = new byte[span.Length - dropped];
        var from = 0;
        var to = 0;
        for (var i = 0; i < _dropCount; i++)
        {
            var kept = span[from.._drops[i * 2]];
            kept.CopyTo(result.AsSpan(to));
            to += kept.Length;
            from = _drops[(i * 2) + 1];
        }
        span[from..].CopyTo(result.AsSpan(to));
        return result;
    }

    private void Hold(ReadOnlySpan<byte> rest)
    {
        _heldLength = 0;
        Append(rest);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_held.Length < _heldLength + bytes.Length)
        {
            Array.Resize(ref _held, Math.Max(_heldLength + bytes.Length, Math.Max(256, _held.Length * 2)));
        }
        bytes.CopyTo(_held.AsSpan(_heldLength));
        _heldLength += bytes.Length;
    }

    // Opaque text, decoded across chunks (a character split between two chunks is kept whole).
    private void CountOpaque(ReadOnlySpan<byte> chunk, bool flush)
    {
        _decoder ??= Encoding.UTF8.GetDecoder();
        var length = _decoder.GetCharCount(chunk, flush);
        if (length == 0)
        {
            return;
        }
        if (_chars.Length < length)
        {
            _chars = new char[Math.Max(length, _chars.Length * 2)];
        }
        var written = _decoder.GetChars(chunk, _chars, flush);
        _countedOutput += _tokenizer.CountTokens(_chars.AsSpan(0, written));
    }
}
