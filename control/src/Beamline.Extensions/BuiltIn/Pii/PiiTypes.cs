namespace Beamline.Extensions.BuiltIn.Pii;

/// <summary>The kinds of PII the built-in detectors find (config names in <see cref="PiiTypeNames"/>).</summary>
[Flags]
public enum PiiTypes
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary><c>email</c>: <c>local@domain.tld</c> (local part ≤ 64 chars, domain ≤ 62 chars).</summary>
    Email = 1,

    /// <summary><c>phone</c>: <c>+</c> and 8–15 digits, or a North American number with separators (<c>(415) 555-2671</c>, <c>1-415-555-2671</c>).</summary>
    Phone = 2,

    /// <summary><c>card</c>: 13–19 digits, single spaces or dashes between them, Luhn-checked.</summary>
    Card = 4,

    /// <summary><c>iban</c>: country code, check digits and the country's length, groups of 4 may be spaced, mod-97 checked.</summary>
    Iban = 8,

    /// <summary><c>ssn</c>: US <c>AAA-GG-SSSS</c> (area 000, 666, 9xx, group 00 and serial 0000 excluded).</summary>
    Ssn = 16,

    /// <summary><c>ip</c>: IPv4 (octets ≤ 255) and IPv6 (with <c>::</c> and an IPv4 tail).</summary>
    Ip = 32,

    /// <summary>Every type.</summary>
    All = Email | Phone | Card | Iban | Ssn | Ip,
}

/// <summary>The config names of <see cref="PiiTypes"/>, and the default mask tokens.</summary>
public static class PiiTypeNames
{
    /// <summary>The types in their canonical order (the order of <c>details.types</c>).</summary>
    internal static ReadOnlySpan<PiiTypes> Ordered => [PiiTypes.Email, PiiTypes.Phone, PiiTypes.Card, PiiTypes.Iban, PiiTypes.Ssn, PiiTypes.Ip];

    /// <summary>The config name of one type (<c>email</c>, <c>phone</c>, …).</summary>
    public static string NameOf(PiiTypes type) => type switch
    {
        PiiTypes.Email => "email",
        PiiTypes.Phone => "phone",
        PiiTypes.Card => "card",
        PiiTypes.Iban => "iban",
        PiiTypes.Ssn => "ssn",
        PiiTypes.Ip => "ip",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The default mask token of one type (<c>[EMAIL]</c>, …).</summary>
    public static string DefaultToken(PiiTypes type) => type switch
    {
        PiiTypes.Email => "[EMAIL]",
        PiiTypes.Phone => "[PHONE]",
        PiiTypes.Card => "[CARD]",
        PiiTypes.Iban => "[IBAN]",
        PiiTypes.Ssn => "[SSN]",
        PiiTypes.Ip => "[IP]",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Reads a config name; false when unknown.</summary>
    public static bool TryParse(string name, out PiiTypes type)
    {
        type = name switch
        {
            "email" => PiiTypes.Email,
            "phone" => PiiTypes.Phone,
            "card" => PiiTypes.Card,
            "iban" => PiiTypes.Iban,
            "ssn" => PiiTypes.Ssn,
            "ip" => PiiTypes.Ip,
            _ => PiiTypes.None,
        };
        return type != PiiTypes.None;
    }

    /// <summary>The index of a single type in <see cref="Ordered"/>.</summary>
    internal static int IndexOf(PiiTypes type) => System.Numerics.BitOperations.TrailingZeroCount((int)type);
}
