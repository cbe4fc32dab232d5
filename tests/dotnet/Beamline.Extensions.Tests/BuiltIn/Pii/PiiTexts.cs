using CsCheck;

namespace Beamline.Extensions.Tests.BuiltIn.Pii;

/// <summary>Random texts made of entities, near misses, fillers and random characters.</summary>
internal static class PiiTexts
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

    public static readonly Gen<string> Texts = Piece.Array[0, 40].Select(string.Concat);
}
