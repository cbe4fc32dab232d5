using Beamline.Extensions.BuiltIn.Internal;

namespace Beamline.Extensions.Tests.BuiltIn.Internal;

/// <summary>Expected forms from Python's <c>unicodedata.normalize("NFC", …)</c>.</summary>
public sealed class UnicodeNfcTests
{
    [Theory]
    [InlineData("e\u0301", "\u00e9")]
    [InlineData("A\u030a", "\u00c5")]
    [InlineData("\u212b", "\u00c5")]
    [InlineData("\u1e9b\u0323", null)]
    [InlineData("\u1100\u1161\u11a8", "\uac01")]
    [InlineData("o\u0302\u0323", "\u1ed9")]
    [InlineData("o\u0323\u0302", "\u1ed9")]
    [InlineData("\u0344", "\u0308\u0301")]
    [InlineData("\u00e9\u0323", "\u1eb9\u0301")]
    [InlineData("\u0958", "\u0915\u093c")]
    [InlineData("plain ascii and caf\u00e9", null)]
    [InlineData("\u0301 leading mark", null)]
    public void Normalize_MatchesTheReference(string text, string? expected) => Assert.Equal(expected, UnicodeNfc.Normalize(text));
}
