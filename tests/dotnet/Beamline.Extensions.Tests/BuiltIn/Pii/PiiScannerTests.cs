using Beamline.Extensions.BuiltIn.Pii;
using CsCheck;

namespace Beamline.Extensions.Tests.BuiltIn.Pii;

public sealed class PiiScannerTests
{
    private static List<(string Text, PiiTypes Type)> Find(string text, PiiTypes types = PiiTypes.All)
    {
        var sink = new ListSink();
        PiiScanner.Scan(text, 0, text.Length, types, ref sink);
        return sink.Matches.ConvertAll(m => (text.Substring(m.Start, m.Length), m.Type));
    }

    private struct ListSink() : IPiiSink
    {
        public List<PiiMatch> Matches { get; } = [];

        public readonly void OnMatch(in PiiMatch match) => Matches.Add(match);
    }

    private static void AssertFinds(string entity, PiiTypes type)
    {
        Assert.Equal([(entity, type)], Find(entity));
        Assert.Equal([(entity, type)], Find($"see {entity} here"));
        Assert.Equal([(entity, type)], Find($"({entity}), then"));
    }

    private static void AssertNone(string text, PiiTypes types = PiiTypes.All) => Assert.Empty(Find($"x {text} y", types));

    [Theory]
    [InlineData("john.doe@example.com")]
    [InlineData("a+tag@sub.example.co.uk")]
    [InlineData("USER_1%x@mail-server.example.org")]
    [InlineData("42@example.io")]
    public void Email_Valid_IsFound(string email) => AssertFinds(email, PiiTypes.Email);

    [Theory]
    [InlineData("user@localhost")]
    [InlineData("@example.com")]
    [InlineData("john@.com")]
    [InlineData("john@example.c")]
    [InlineData("john.@example.com")]
    [InlineData("john@-example.com")]
    [InlineData("john@example.c0m")]
    public void Email_Invalid_IsNotFound(string text) => AssertNone(text);

    [Fact]
    public void Email_AtSentenceEnd_LeavesTheFullStop()
        => Assert.Equal([("bob@example.com", PiiTypes.Email)], Find("Write to bob@example.com."));

    [Fact]
    public void Email_LocalPartOver64_IsNotFound()
    {
        Assert.Equal([(new string('a', 64) + "@example.com", PiiTypes.Email)], Find(new string('a', 64) + "@example.com"));
        Assert.Empty(Find(new string('a', 65) + "@example.com"));
    }

    [Fact]
    public void Email_DomainOver62_IsNotFound()
    {
        string domain62 = new string('d', 58) + ".com";
        string domain63 = new string('d', 59) + ".com";
        Assert.Equal([("x@" + domain62, PiiTypes.Email)], Find("x@" + domain62));
        Assert.Empty(Find("x@" + domain63));
    }

    [Theory]
    [InlineData("+1 415 555 2671")]
    [InlineData("+14155552671")]
    [InlineData("+44 20 7946 0958")]
    [InlineData("(415) 555-2671")]
    [InlineData("(415)555-2671")]
    [InlineData("415-555-2671")]
    [InlineData("415.555.2671")]
    [InlineData("1-415-555-2671")]
    [InlineData("+1 (415) 555-2671")]
    public void Phone_Valid_IsFound(string phone) => AssertFinds(phone, PiiTypes.Phone);

    [Theory]
    [InlineData("2024-01-15")]
    [InlineData("12345")]
    [InlineData("415-555-267")]
    [InlineData("4155552671")]
    [InlineData("+1234567")]
    [InlineData("415-555-2671x")]
    public void Phone_Invalid_IsNotFound(string text) => AssertNone(text);

    [Theory]
    [InlineData("4111 1111 1111 1111")]
    [InlineData("4111-1111-1111-1111")]
    [InlineData("4111111111111111")]
    [InlineData("5500 0000 0000 0004")]
    [InlineData("378282246310005")]
    [InlineData("6011111111111117")]
    [InlineData("4222222222222")]
    public void Card_LuhnValid_IsFound(string card) => AssertFinds(card, PiiTypes.Card);

    [Theory]
    [InlineData("4111 1111 1111 1112")]
    [InlineData("4111111111111121")]
    [InlineData("0000 0000 0000 0000")]
    [InlineData("411111111111")]
    [InlineData("41111111111111111111")]
    [InlineData("4111  1111 1111 1111")]
    public void Card_Invalid_IsNotFound(string text) => AssertNone(text, PiiTypes.Card);

    [Fact]
    public void Card_FollowedByMoreDigitGroups_IsTheLongestValidPrefix()
        => Assert.Equal([("4111 1111 1111 1111", PiiTypes.Card)], Find("card 4111 1111 1111 1111 12 29", PiiTypes.Card));

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 00")]
    [InlineData("DE89370400440532013000")]
    [InlineData("GB82 WEST 1234 5698 7654 32")]
    [InlineData("FR14 2004 1010 0505 0001 3M02 606")]
    [InlineData("NO93 8601 1117 947")]
    public void Iban_Valid_IsFound(string iban) => AssertFinds(iban, PiiTypes.Iban);

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 01")]
    [InlineData("DE88 3704 0044 0532 0130 00")]
    [InlineData("DE89 3704 0044 0532 0130")]
    [InlineData("DE89 3704 0044 0532 0130 000")]
    [InlineData("ZZ89 3704 0044 0532 0130 00")]
    [InlineData("DE89 37 04 0044 0532 0130 00")]
    public void Iban_Invalid_IsNotFound(string text) => AssertNone(text, PiiTypes.Iban);

    [Theory]
    [InlineData("123-45-6789")]
    [InlineData("123 45 6789")]
    [InlineData("899-99-9999")]
    [InlineData("001-01-0001")]
    public void Ssn_Valid_IsFound(string ssn) => AssertFinds(ssn, PiiTypes.Ssn);

    [Theory]
    [InlineData("000-12-3456")]
    [InlineData("666-12-3456")]
    [InlineData("900-12-3456")]
    [InlineData("999-12-3456")]
    [InlineData("123-00-4567")]
    [InlineData("123-45-0000")]
    [InlineData("123-45 6789")]
    [InlineData("123-45-67890")]
    public void Ssn_InvalidRangeOrShape_IsNotFound(string text) => AssertNone(text, PiiTypes.Ssn);

    [Theory]
    [InlineData("192.168.1.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.0.254")]
    public void IPv4_Valid_IsFound(string ip) => AssertFinds(ip, PiiTypes.Ip);

    [Theory]
    [InlineData("256.1.1.1")]
    [InlineData("1.1.1.256")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3.0004")]
    public void IPv4_Invalid_IsNotFound(string text) => AssertNone(text, PiiTypes.Ip);

    [Theory]
    [InlineData("2001:db8::1")]
    [InlineData("::1")]
    [InlineData("fe80::1ff:fe23:4567:890a")]
    [InlineData("2001:0db8:85a3:0000:0000:8a2e:0370:7334")]
    [InlineData("::ffff:192.0.2.128")]
    [InlineData("2001:DB8:0:0:8:800:200C:417A")]
    [InlineData("1::")]
    public void IPv6_Valid_IsFound(string ip) => AssertFinds(ip, PiiTypes.Ip);

    [Theory]
    [InlineData("12:30:45")]
    [InlineData("2001:db8:::1")]
    [InlineData("2001:db8::1::2")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("12345::1")]
    [InlineData("::")]
    [InlineData("2001:db8::1g")]
    public void IPv6_Invalid_IsNotFound(string text) => AssertNone(text, PiiTypes.Ip);

    [Fact]
    public void Scan_InsideAWord_FindsNothing()
    {
        Assert.Empty(Find("id4111111111111111 x192.168.1.1 ab123-45-6789 std::vector"));
    }

    [Fact]
    public void Scan_TypesFilter_FindsOnlyThoseTypes()
    {
        const string Text = "mail a@b.io, ip 10.0.0.1, ssn 123-45-6789";
        Assert.Equal([("10.0.0.1", PiiTypes.Ip)], Find(Text, PiiTypes.Ip));
        Assert.Equal(3, Find(Text).Count);
    }

    [Fact]
    public void Scan_AdjacentEntities_AreAllFound()
    {
        Assert.Equal(
            [("a@b.io", PiiTypes.Email), ("10.0.0.1", PiiTypes.Ip), ("123-45-6789", PiiTypes.Ssn)],
            Find("a@b.io,10.0.0.1;123-45-6789"));
    }

    [Fact]
    public void Scan_RandomTexts_EqualsTryingEveryPosition()
    {
        // The scan skips words and positions far from any '@', digit or ':'; the reference tries
        // every position, so the two agree only if every skip is sound.
        PiiTexts.Texts.Sample(text =>
        {
            foreach (var types in (ReadOnlySpan<PiiTypes>)[PiiTypes.All, PiiTypes.Email, PiiTypes.Ip | PiiTypes.Phone])
            {
                var expected = new List<(string, PiiTypes)>();
                int i = 0;
                while (i < text.Length)
                {
                    if (PiiScanner.TryMatchAt(text, i, types, out var match))
                    {
                        expected.Add((text.Substring(match.Start, match.Length), match.Type));
                        i = match.End;
                    }
                    else
                    {
                        i++;
                    }
                }

                Assert.Equal(expected, Find(text, types));
            }
        }, iter: 1000);
    }
}
