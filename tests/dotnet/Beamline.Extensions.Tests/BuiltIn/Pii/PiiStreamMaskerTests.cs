using System.Text;
using Beamline.Extensions.BuiltIn;
using Beamline.Extensions.BuiltIn.Pii;
using CsCheck;

namespace Beamline.Extensions.Tests.BuiltIn.Pii;

/// <summary>Streaming masking equals masking the whole text, wherever the chunks split it.</summary>
public sealed class PiiStreamMaskerTests
{
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
        PiiTexts.Texts.Sample(text =>
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
        var gen = from text in PiiTexts.Texts
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
        PiiTexts.Texts.Sample(text => Assert.Equal(MaskWhole(text), MaskStreamed(text.Select(c => c.ToString()))), iter: 300);
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
