using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Tokens;

/// <summary>Counts the tokens of text held as UTF-8 or in JSON, without keeping a string of it.</summary>
internal static class TextTokens
{
    // Texts up to this many chars are transcoded on the stack; longer ones into a pooled array.
    private const int StackChars = 512;

    /// <summary>The tokens of UTF-8 <paramref name="utf8"/> (invalid bytes count as replacement characters).</summary>
    public static long Count(Tokenizer tokenizer, ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return 0;
        }
        var length = Encoding.UTF8.GetMaxCharCount(utf8.Length);
        char[]? rented = null;
        var chars = length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetChars(utf8, chars);
            return tokenizer.CountTokens(chars[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The tokens of the string <paramref name="reader"/> is on (escapes decoded).</summary>
    public static long CountString(Tokenizer tokenizer, ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            return Count(tokenizer, reader.ValueSpan);
        }
        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        char[]? rented = null;
        var chars = length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            var written = reader.CopyString(chars);
            return tokenizer.CountTokens(chars[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The tokens of <paramref name="value"/> when it is a string, else 0.</summary>
    public static long CountString(Tokenizer tokenizer, JsonElement value)
        => value.ValueKind == JsonValueKind.String ? tokenizer.CountTokens(value.GetString()!) : 0;

    /// <summary>The tokens of <paramref name="value"/>'s JSON text (tool definitions, tool inputs: an estimate).</summary>
    public static long CountRaw(Tokenizer tokenizer, JsonElement value)
        => value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? 0 : tokenizer.CountTokens(value.GetRawText());
}
