using System.Buffers;
using System.Text;

namespace Beamline.Extensions.BuiltIn.Internal;

/// <summary>
/// Unicode normalization form C. The build runs with invariant globalization, where
/// <see cref="string.Normalize()"/> does nothing (it needs ICU); when the runtime does normalize, it
/// is used, otherwise this: canonical decomposition, canonical ordering and canonical composition
/// with the tables of <c>UnicodeNfc.Data.cs</c> (the Basic Multilingual Plane, Hangul
/// algorithmically; characters outside it are kept as they are).
/// </summary>
internal static partial class UnicodeNfc
{
    private const int HangulBase = 0xAC00;
    private const int HangulCount = 11172;
    private const int LBase = 0x1100;
    private const int VBase = 0x1161;
    private const int TBase = 0x11A7;
    private const int VCount = 21;
    private const int TCount = 28;

    private static readonly bool RuntimeNormalizes = DetectRuntime();

    /// <summary>The NFC form of <paramref name="text"/>, or null when it already is.</summary>
    public static string? Normalize(ReadOnlySpan<char> text)
    {
        // Below U+0300 nothing decomposes into or composes from anything else.
        if (!text.ContainsAnyExceptInRange('\0', '\u02FF'))
        {
            return null;
        }

        if (RuntimeNormalizes)
        {
            string value = new(text);
            return value.IsNormalized(NormalizationForm.FormC) ? null : value.Normalize(NormalizationForm.FormC);
        }

        char[] buffer = ArrayPool<char>.Shared.Rent(text.Length * 3 + 16);
        try
        {
            int length = 0;
            foreach (char c in text)
            {
                Decompose(c, ref buffer, ref length);
            }

            var span = buffer.AsSpan(0, length);
            Reorder(span);
            length = Compose(span);
            return buffer.AsSpan(0, length).SequenceEqual(text) ? null : new string(buffer, 0, length);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    internal static int CombiningClass(char c)
    {
        int index = CombiningStarts.BinarySearch((ushort)c);
        if (index < 0)
        {
            index = ~index - 1;
        }

        return index >= 0 && c <= CombiningEnds[index] ? CombiningClasses[index] : 0;
    }

    private static void Decompose(char c, ref char[] buffer, ref int length)
    {
        if (length + 4 > buffer.Length)
        {
            var larger = ArrayPool<char>.Shared.Rent(buffer.Length * 2);
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<char>.Shared.Return(buffer);
            buffer = larger;
        }

        int s = c - HangulBase;
        if (s is >= 0 and < HangulCount)
        {
            buffer[length++] = (char)(LBase + s / (VCount * TCount));
            buffer[length++] = (char)(VBase + s % (VCount * TCount) / TCount);
            if (s % TCount != 0)
            {
                buffer[length++] = (char)(TBase + s % TCount);
            }

            return;
        }

        int index = DecompositionKeys.BinarySearch((ushort)c);
        if (index < 0)
        {
            buffer[length++] = c;
            return;
        }

        uint value = DecompositionValues[index];
        Decompose((char)(value >> 16), ref buffer, ref length);
        if ((value & 0xFFFF) != 0)
        {
            Decompose((char)(value & 0xFFFF), ref buffer, ref length);
        }
    }

    /// <summary>Sorts each run of combining marks by combining class, stably.</summary>
    private static void Reorder(Span<char> text)
    {
        for (int i = 1; i < text.Length; i++)
        {
            int cc = CombiningClass(text[i]);
            if (cc == 0)
            {
                continue;
            }

            for (int j = i; j > 0 && CombiningClass(text[j - 1]) > cc; j--)
            {
                (text[j - 1], text[j]) = (text[j], text[j - 1]);
            }
        }
    }

    /// <summary>Canonical composition in place (UAX #15); returns the new length.</summary>
    private static int Compose(Span<char> text)
    {
        if (text.IsEmpty)
        {
            return 0;
        }

        int starter = 0;
        int lastClass = CombiningClass(text[0]) == 0 ? 0 : 256;
        int written = 1;
        for (int i = 1; i < text.Length; i++)
        {
            char c = text[i];
            int cc = CombiningClass(c);
            int composite = ComposePair(text[starter], c);
            if (composite >= 0 && (lastClass < cc || lastClass == 0))
            {
                text[starter] = (char)composite;
                continue;
            }

            if (cc == 0)
            {
                starter = written;
            }

            lastClass = cc;
            text[written++] = c;
        }

        return written;
    }

    private static int ComposePair(char first, char second)
    {
        int l = first - LBase;
        int v = second - VBase;
        if (l is >= 0 and < 19 && v is >= 0 and < VCount)
        {
            return HangulBase + (l * VCount + v) * TCount;
        }

        int s = first - HangulBase;
        int t = second - TBase;
        if (s is >= 0 and < HangulCount && s % TCount == 0 && t is > 0 and < TCount)
        {
            return first + t;
        }

        int index = CompositionKeys.BinarySearch((uint)first << 16 | second);
        return index >= 0 ? CompositionValues[index] : -1;
    }

    private static bool DetectRuntime()
    {
        try
        {
            return "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";
        }
        catch (PlatformNotSupportedException)
        {
            return false;
        }
    }
}
