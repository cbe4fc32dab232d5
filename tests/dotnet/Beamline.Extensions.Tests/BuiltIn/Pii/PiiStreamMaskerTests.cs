using System.Text;
using Beamline.Extensions.BuiltIn;
using Beamline.Extensions.BuiltIn.Pii;
using CsCheck;

namespace Beamline.Extensions.Tests.BuiltIn.Pii;

/// <summary>Streaming masking equals masking the whole text, wherever the chunks split it.</summary>
public sealed class PiiStreamMaskerTests
{
    private static readonly string[] Entities =
    [
        "john.doe@example.com", "a+tag@sub.example.co.uk", new string('l', 64) + "@" + new string('d', 58) + ".com",
        "+1 415 555 2671", "(415) 555-2671", "415.555.2671", "1-415-555-2671", "+44 20 7946 0958",
        "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005", "4111 1111 1111 1111 12",
        "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606",
        "123-45-6789", "899 99 9999", "192.168.1.1", "255.255.255.255", "2001:db8::1", "::ffff:192.0.2.128",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        // Near misses: extend, break or almost complete an entity.
        "4111 1111 1111 1112", "666-12-3456", "256.1.1.1", "1.2.3.4.5", "john@example", "DE89 3704 0044 0532 0130 01",
        "12:30:45", "john@@example.com", "4111111111111111111111", "x@" + new string('d', 59) + ".com",
    ];

    private static readonly string[] Fillers =
    [
        " ", ", ", ". ", "\n", "(", ")", "the ", "call ", "at ", "-", ":", "@", "+", "1", "42", ".", "mail: ", "é", "ü ", "\t",
    ];

    private static readonly Gen<string> Piece = Gen.Frequency(
        (3, Gen.OneOf(Entities)),
        (3, Gen.OneOf(Fillers)),
        (2, Gen.Char["abcdefxyz0123456789 .:@-+"].Array[0, 12].Select(chars => new string(chars))));

    private static readonly Gen<string> Texts = Piece.Array[0, 40].Select(string.Concat);

    private static string MaskWhole(string text) => new PiiMasker(PiiOptions.Default).Rewrite(text) ?? text;

    private static string MaskStreamed(IEnumerable<string> chunks)
    {
        var masker = new PiiStreamMasker(PiiOptions.Default);
        var output = new StringBuilder();
        foreach (string chunk in chunks)
        {
            output.Append(masker.Push(chunk));
            Assert.InRange(masker.HeldBack, 0, PiiScanner.Lookahead);
        }

        return output.Append(masker.Flush()).ToString();
    }

    private static IEnumerable<string> SplitAt(string text, params int[] offsets)
    {
        int from = 0;
        foreach (int offset in offsets)
        {
            yield return text[from..offset];
            from = offset;
        }

        yield return text[from..];
    }

    [Fact]
    public void Stream_RandomTexts_EverySplitOffset_EqualsWholeMasking()
    {
        Texts.Sample(text =>
        {
            string expected = MaskWhole(text);
            for (int offset = 0; offset <= text.Length; offset++)
            {
                Assert.Equal(expected, MaskStreamed(SplitAt(text, offset)));
            }
        }, iter: 300);
    }

    [Fact]
    public void Stream_RandomTexts_RandomMultiWaySplits_EqualWholeMasking()
    {
        var gen = from text in Texts
                  from cuts in Gen.Int[0, Math.Max(text.Length, 0)].Array[0, 12]
                  select (text, cuts);
        gen.Sample(t =>
        {
            int[] offsets = [.. t.cuts.Order()];
            Assert.Equal(MaskWhole(t.text), MaskStreamed(SplitAt(t.text, offsets)));
        }, iter: 2000);
    }

    [Fact]
    public void Stream_OneCharacterChunks_EqualWholeMasking()
    {
        Texts.Sample(text => Assert.Equal(MaskWhole(text), MaskStreamed(text.Select(c => c.ToString()))), iter: 300);
    }

    [Fact]
    public void Stream_FixedTextWithEveryType_EverySplitOffsetAndPair_EqualsWholeMasking()
    {
        string text = "Mail john.doe@example.com or call +1 (415) 555-2671; card 4111 1111 1111 1111, IBAN "
            + "DE89 3704 0044 0532 0130 00, SSN 123-45-6789, from 192.168.1.1 and 2001:db8::1. Also "
            + new string('l', 64) + "@" + new string('d', 58) + ".com end";
        const string Expected = "Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN], SSN [SSN], from [IP] and [IP]. Also [EMAIL] end";
        Assert.Equal(Expected, MaskWhole(text));
        for (int a = 0; a <= text.Length; a++)
        {
            Assert.Equal(Expected, MaskStreamed(SplitAt(text, a)));
            for (int b = a; b <= text.Length; b += 7)
            {
                Assert.Equal(Expected, MaskStreamed(SplitAt(text, a, b)));
            }
        }
    }

    [Fact]
    public void Stream_EntityEndingAtAChunkEnd_WaitsForWhatFollows()
    {
        var masker = new PiiStreamMasker(PiiOptions.Default);
        string first = masker.Push("ssn 123-45-6789");
        string second = masker.Push("0 now");
        string rest = masker.Flush();

        // With the digit that followed, it is no SSN: masking the first chunk early would be wrong.
        Assert.Equal("ssn 123-45-67890 now", first + second + rest);
        Assert.Equal("ssn 123-45-67890 now", MaskWhole("ssn 123-45-67890 now"));

        masker = new PiiStreamMasker(PiiOptions.Default);
        Assert.Equal("ssn [SSN] now", masker.Push("ssn 123-45-6789") + masker.Push(" now") + masker.Flush());
    }

    [Fact]
    public void Stream_LongText_EmitsAllButTheBoundedTail()
    {
        var masker = new PiiStreamMasker(PiiOptions.Default);
        string chunk = string.Concat(Enumerable.Repeat("plain words only. ", 50));
        string first = masker.Push(chunk);
        Assert.Equal(chunk.Length - PiiScanner.Lookahead, first.Length);
        Assert.Equal(chunk, first + masker.Flush());
    }

    [Fact]
    public void BeginStream_Replacement_UsesTheConfiguredTokens()
    {
        var stream = new MaskPiiExtension().BeginStream(Inputs.Text("", """{"replacement":{"email":"<e>"},"types":["email"]}"""));
        string output = stream.Push("to a@b.io and 10.0.0.1") + stream.Flush();
        Assert.Equal("to <e> and 10.0.0.1", output);
    }

    [Fact]
    public void BeginStream_BadConfig_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => new MaskPiiExtension().BeginStream(Inputs.Text("", """{"types":["nope"]}""")));
        Assert.Contains("types[0]", error.Message, StringComparison.Ordinal);
    }
}
