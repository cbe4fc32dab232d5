using System.Text.Json;

namespace Beamline.Extensions.BuiltIn.Internal;

/// <summary>
/// Walks a JSON payload and stops at each string that is message text (the paths of
/// <see cref="PayloadText"/>), or at every string value when asked, in document order. One forward pass of a <see cref="Utf8JsonReader"/>;
/// the path is kept as 4-bit segment ids in a <see cref="ulong"/> per open container, so nothing is
/// allocated. Throws <see cref="JsonException"/> for malformed JSON.
/// </summary>
internal ref struct JsonTextCursor
{
    // Segment ids (4 bits): a known property name, an array item, or anything else.
    private const byte Other = 0;
    private const byte Item = 1;
    private const byte Messages = 2;
    private const byte Content = 3;
    private const byte Text = 4;
    private const byte Prompt = 5;
    private const byte Input = 6;
    private const byte System = 7;
    private const byte Choices = 8;
    private const byte Message = 9;
    private const byte Delta = 10;
    private const byte OutputText = 11;
    private const byte Output = 12;

    // Containers are only tracked this deep; every text path is at most 6 segments.
    private const int MaxTracked = 6;

    private static readonly ulong[] TextPaths =
    [
        Key(),
        Key(Messages, Item, Content),
        Key(Messages, Item, Content, Item, Text),
        Key(Prompt),
        Key(Prompt, Item),
        Key(Input),
        Key(Input, Item),
        Key(Input, Item, Content),
        Key(Input, Item, Content, Item, Text),
        Key(Text),
        Key(System),
        Key(System, Item, Text),
        Key(Choices, Item, Message, Content),
        Key(Choices, Item, Message, Content, Item, Text),
        Key(Choices, Item, Delta, Content),
        Key(Choices, Item, Text),
        Key(Content, Item, Text),
        Key(Delta, Text),
        Key(OutputText),
        Key(Output, Item, Content, Item, Text),
    ];

    private Utf8JsonReader _reader;
    private int _depth;
    private byte _property;
    private ulong _k0, _k1, _k2, _k3, _k4, _k5;
    private uint _arrays;
    private readonly bool _everyString;

    /// <summary>
    /// Starts at the beginning of <paramref name="json"/>; stops at every string value (never a
    /// property name) when <paramref name="everyString"/>, else only at message text.
    /// </summary>
    public JsonTextCursor(ReadOnlySpan<byte> json, bool everyString = false)
    {
        _reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        _everyString = everyString;
    }

    /// <summary>Where the current string's token starts (its opening quote).</summary>
    public readonly int TokenStart => (int)_reader.TokenStartIndex;

    /// <summary>The current string's token length in the payload, quotes included.</summary>
    public readonly int TokenLength => _reader.ValueSpan.Length + 2;

    /// <summary>An upper bound of the current string's length in UTF-16 characters.</summary>
    public readonly int MaxCharCount => _reader.ValueSpan.Length;

    /// <summary>Copies the current string, unescaped, into <paramref name="destination"/>; returns its length.</summary>
    public readonly int CopyString(Span<char> destination) => _reader.CopyString(destination);

    /// <summary>Moves to the next text string; false at the end of the document.</summary>
    public bool MoveNext()
    {
        while (_reader.Read())
        {
            switch (_reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    _property = ClassifyProperty(ref _reader);
                    break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    Push(ValueKey(), _reader.TokenType == JsonTokenType.StartArray);
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    _depth--;
                    break;
                case JsonTokenType.String:
                    if (_everyString)
                    {
                        return true;
                    }

                    ulong key = ValueKey();
                    if (key != 0 && Array.IndexOf(TextPaths, key) >= 0)
                    {
                        return true;
                    }

                    break;
                default:
                    break;
            }
        }

        return false;
    }

    /// <summary>The path key of the value at the reader (0 when untracked or too deep).</summary>
    private readonly ulong ValueKey()
    {
        if (_depth == 0)
        {
            return Key();
        }

        if (_depth > MaxTracked)
        {
            return 0;
        }

        ulong parent = KeyAt(_depth - 1);
        byte segment = (_arrays & (1u << (_depth - 1))) != 0 ? Item : _property;
        return parent == 0 ? 0 : parent << 4 | segment;
    }

    private void Push(ulong key, bool array)
    {
        if (_depth < MaxTracked)
        {
            switch (_depth)
            {
                case 0: _k0 = key; break;
                case 1: _k1 = key; break;
                case 2: _k2 = key; break;
                case 3: _k3 = key; break;
                case 4: _k4 = key; break;
                default: _k5 = key; break;
            }

            _arrays = array ? _arrays | 1u << _depth : _arrays & ~(1u << _depth);
        }

        _depth++;
    }

    private readonly ulong KeyAt(int depth) => depth switch
    {
        0 => _k0,
        1 => _k1,
        2 => _k2,
        3 => _k3,
        4 => _k4,
        _ => _k5,
    };

    private static ulong Key(params ReadOnlySpan<byte> segments)
    {
        ulong key = 1;
        foreach (byte segment in segments)
        {
            key = key << 4 | segment;
        }

        return key;
    }

    private static byte ClassifyProperty(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            return reader.ValueTextEquals("messages"u8) ? Messages
                : reader.ValueTextEquals("content"u8) ? Content
                : reader.ValueTextEquals("text"u8) ? Text
                : reader.ValueTextEquals("prompt"u8) ? Prompt
                : reader.ValueTextEquals("input"u8) ? Input
                : reader.ValueTextEquals("system"u8) ? System
                : reader.ValueTextEquals("choices"u8) ? Choices
                : reader.ValueTextEquals("message"u8) ? Message
                : reader.ValueTextEquals("delta"u8) ? Delta
                : reader.ValueTextEquals("output_text"u8) ? OutputText
                : reader.ValueTextEquals("output"u8) ? Output
                : Other;
        }

        var name = reader.ValueSpan;
        return name.Length switch
        {
            4 when name.SequenceEqual("text"u8) => Text,
            5 when name.SequenceEqual("input"u8) => Input,
            5 when name.SequenceEqual("delta"u8) => Delta,
            6 when name.SequenceEqual("prompt"u8) => Prompt,
            6 when name.SequenceEqual("system"u8) => System,
            6 when name.SequenceEqual("output"u8) => Output,
            7 when name.SequenceEqual("content"u8) => Content,
            7 when name.SequenceEqual("choices"u8) => Choices,
            7 when name.SequenceEqual("message"u8) => Message,
            8 when name.SequenceEqual("messages"u8) => Messages,
            11 when name.SequenceEqual("output_text"u8) => OutputText,
            _ => Other,
        };
    }
}
