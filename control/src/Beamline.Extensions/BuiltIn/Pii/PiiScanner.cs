using System.Buffers;

namespace Beamline.Extensions.BuiltIn.Pii;

/// <summary>One PII entity found in a text: <c>[Start, Start + Length)</c>.</summary>
public readonly record struct PiiMatch(int Start, int Length, PiiTypes Type)
{
    /// <summary>The index just past the entity.</summary>
    public int End => Start + Length;
}

/// <summary>Receives the entities <see cref="PiiScanner.Scan"/> finds, in order.</summary>
public interface IPiiSink
{
    /// <summary>One entity.</summary>
    void OnMatch(in PiiMatch match);
}

/// <summary>
/// The PII detectors: hand-written, linear scanners (no regex). The matching rule is defined per
/// start position: whether an entity starts at <c>i</c> (and which, and how long) depends only on
/// <c>text[i - 1]</c> through <c>text[i + <see cref="Lookahead"/> - 1]</c>; the scan takes the
/// leftmost entity, goes on after its end, and otherwise moves on by one. That locality is what
/// lets the streaming masker hold back at most <see cref="Lookahead"/> characters and still mask an
/// entity split across chunks at any offset exactly as masking the whole text would.
/// </summary>
/// <remarks>
/// No entity starts right after an ASCII letter or digit, so the scan skips the rest of a word it
/// has ruled out; no address starts right after a dot or colon (not inside <c>1.2.3.4.5</c>). Detectors are tried in this order at a position: email, IBAN, SSN, card, IPv4,
/// IPv6, phone.
/// </remarks>
public static class PiiScanner
{
    /// <summary>
    /// How far a detector may read from a start position: it reads <c>text[i - 1]</c> through
    /// <c>text[i + 127]</c>, so the longest entity is 127 characters (an email with a 64-character
    /// local part and a 62-character domain) and one more character decides where it ends.
    /// </summary>
    public const int Lookahead = 128;

    /// <summary>The longest entity any detector matches.</summary>
    public const int MaxEntityLength = Lookahead - 1;

    private const int MaxLocalPart = 64;
    private const int MaxDomain = 62;

    private static readonly SearchValues<char> StartChars =
        SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+(:");

    private static readonly SearchValues<char> AsciiAlnum =
        SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    /// <summary>
    /// Scans the start positions <c>[start, stop)</c> of <paramref name="text"/> and reports each
    /// entity of <paramref name="types"/> to <paramref name="sink"/>. Returns the position the scan
    /// stopped at: at least <paramref name="stop"/>, more when the last entity ends past it. Every
    /// position before the returned one is decided; <c>text[start - 1]</c>, when there, is context.
    /// </summary>
    public static int Scan<TSink>(ReadOnlySpan<char> text, int start, int stop, PiiTypes types, ref TSink sink)
        where TSink : IPiiSink, allows ref struct
    {
        // Every entity has an '@' within its first 65 characters (email) or a digit or ':' within
        // its first 5 (the others): positions farther than that from the next one are skipped
        // without looking at them. The next of each is searched again only once it is passed.
        int nextAt = -1;
        int nextTrigger = -1;
        int i = start;
        while (i < stop)
        {
            if (nextAt < i)
            {
                nextAt = NextIndex(text, i, (types & PiiTypes.Email) != 0 ? AtSign : null);
            }

            if (nextTrigger < i)
            {
                nextTrigger = NextIndex(text, i, (types & ~PiiTypes.Email) != 0 ? Triggers : null);
            }

            int jump = Math.Min(nextAt - MaxLocalPart, nextTrigger - 4);
            if (jump > i)
            {
                i = Math.Min(jump, stop);
                continue;
            }

            int next = text[i..stop].IndexOfAny(StartChars);
            if (next < 0)
            {
                return stop;
            }

            i += next;
            if (i > 0 && char.IsAsciiLetterOrDigit(text[i - 1]))
            {
                // Inside a word: no entity starts before the character after the word's end.
                i = char.IsAsciiLetterOrDigit(text[i]) ? SkipWord(text, i, stop) : i + 1;
                continue;
            }

            if (TryMatchAt(text, i, types, out var match))
            {
                sink.OnMatch(match);
                i = match.End;
            }
            else if (char.IsAsciiLetterOrDigit(text[i]))
            {
                i = SkipWord(text, i, stop);
            }
            else
            {
                i++;
            }
        }

        return i;
    }

    /// <summary>Whether an entity of <paramref name="types"/> starts at <paramref name="i"/>.</summary>
    public static bool TryMatchAt(ReadOnlySpan<char> text, int i, PiiTypes types, out PiiMatch match)
    {
        match = default;
        if (i > 0 && char.IsAsciiLetterOrDigit(text[i - 1]))
        {
            return false;
        }

        char c = text[i];
        int end;
        if ((types & PiiTypes.Email) != 0 && char.IsAsciiLetterOrDigit(c) && (end = MatchEmail(text, i)) > 0)
        {
            match = new PiiMatch(i, end - i, PiiTypes.Email);
            return true;
        }

        if ((types & PiiTypes.Iban) != 0 && char.IsAsciiLetterUpper(c) && (end = MatchIban(text, i)) > 0)
        {
            match = new PiiMatch(i, end - i, PiiTypes.Iban);
            return true;
        }

        if (char.IsAsciiDigit(c))
        {
            if ((types & PiiTypes.Ssn) != 0 && (end = MatchSsn(text, i)) > 0)
            {
                match = new PiiMatch(i, end - i, PiiTypes.Ssn);
                return true;
            }

            if ((types & PiiTypes.Card) != 0 && (end = MatchCard(text, i)) > 0)
            {
                match = new PiiMatch(i, end - i, PiiTypes.Card);
                return true;
            }

            if ((types & PiiTypes.Ip) != 0 && !(i > 0 && text[i - 1] == '.') && (end = MatchIPv4(text, i)) > 0)
            {
                match = new PiiMatch(i, end - i, PiiTypes.Ip);
                return true;
            }
        }

        if ((types & PiiTypes.Ip) != 0 && (char.IsAsciiHexDigit(c) || c == ':') && !(i > 0 && text[i - 1] is '.' or ':')
            && (end = MatchIPv6(text, i)) > 0)
        {
            match = new PiiMatch(i, end - i, PiiTypes.Ip);
            return true;
        }

        if ((types & PiiTypes.Phone) != 0 && (char.IsAsciiDigit(c) || c == '+' || c == '(') && (end = MatchPhone(text, i)) > 0)
        {
            match = new PiiMatch(i, end - i, PiiTypes.Phone);
            return true;
        }

        return false;
    }

    private const int NotFound = int.MaxValue / 2;

    private static readonly SearchValues<char> AtSign = SearchValues.Create("@");

    private static readonly SearchValues<char> Triggers = SearchValues.Create("0123456789:");

    /// <summary>The next index of one of <paramref name="values"/> from <paramref name="from"/>, or a far one.</summary>
    private static int NextIndex(ReadOnlySpan<char> text, int from, SearchValues<char>? values)
    {
        if (values is null)
        {
            return NotFound;
        }

        int index = text[from..].IndexOfAny(values);
        return index < 0 ? NotFound : from + index;
    }

    /// <summary>The position after the alphanumeric run at <paramref name="i"/> and the character that ends it.</summary>
    private static int SkipWord(ReadOnlySpan<char> text, int i, int stop)
    {
        int rest = text[(i + 1)..stop].IndexOfAnyExcept(AsciiAlnum);
        return rest < 0 ? stop : i + 1 + rest + 1;
    }

    private static bool IsLocalChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '%' or '+' or '-';

    private static bool IsDomainChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '-';

    private static bool IsBoundaryAfter(ReadOnlySpan<char> text, int end) => end >= text.Length || !char.IsAsciiLetterOrDigit(text[end]);

    /// <summary><c>local@domain.tld</c>; the local part ≤ 64 characters, the domain run ≤ 62 (trailing dots and dashes are not part of it).</summary>
    private static int MatchEmail(ReadOnlySpan<char> text, int i)
    {
        if (i > 0 && text[i - 1] is '_' or '%' or '+' or '-')
        {
            return 0;
        }

        int j = i;
        while (j < text.Length && j - i <= MaxLocalPart && IsLocalChar(text[j]))
        {
            j++;
        }

        if (j - i > MaxLocalPart || j >= text.Length || text[j] != '@' || text[j - 1] == '.')
        {
            return 0;
        }

        int domainStart = j + 1;
        int k = domainStart;
        while (k < text.Length && k - domainStart <= MaxDomain && IsDomainChar(text[k]))
        {
            k++;
        }

        if (k - domainStart > MaxDomain)
        {
            return 0;
        }

        while (k > domainStart && text[k - 1] is '.' or '-')
        {
            k--;
        }

        return IsValidDomain(text[domainStart..k]) ? k : 0;
    }

    private static bool IsValidDomain(ReadOnlySpan<char> domain)
    {
        int labels = 0;
        int lastDot = domain.LastIndexOf('.');
        if (lastDot < 0)
        {
            return false;
        }

        var tld = domain[(lastDot + 1)..];
        if (tld.Length < 2 || tld.ContainsAnyExcept(AsciiLetters))
        {
            return false;
        }

        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.IsEmpty || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            labels++;
        }

        return labels >= 2;
    }

    private static readonly SearchValues<char> AsciiLetters = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    /// <summary>An IBAN of its country's length; spaces allowed between groups of 4; mod 97 == 1.</summary>
    private static int MatchIban(ReadOnlySpan<char> text, int i)
    {
        if (i + 4 > text.Length || !char.IsAsciiLetterUpper(text[i + 1]) || !char.IsAsciiDigit(text[i + 2]) || !char.IsAsciiDigit(text[i + 3]))
        {
            return 0;
        }

        int length = IbanLengths.Of(text[i], text[i + 1]);
        if (length == 0)
        {
            return 0;
        }

        Span<char> iban = stackalloc char[34];
        int pos = i;
        for (int n = 0; n < length; n++)
        {
            if (n > 0 && n % 4 == 0 && pos < text.Length && text[pos] == ' ')
            {
                pos++;
            }

            if (pos >= text.Length || !(char.IsAsciiDigit(text[pos]) || char.IsAsciiLetterUpper(text[pos])))
            {
                return 0;
            }

            iban[n] = text[pos++];
        }

        if (!IsBoundaryAfter(text, pos))
        {
            return 0;
        }

        // Mod 97 over the BBAN followed by the country code and check digits, letters as 10..35.
        int remainder = 0;
        for (int n = 0; n < length; n++)
        {
            char ch = iban[(n + 4) % length];
            remainder = char.IsAsciiDigit(ch) ? (remainder * 10 + (ch - '0')) % 97 : (remainder * 100 + (ch - 'A' + 10)) % 97;
        }

        return remainder == 1 ? pos : 0;
    }

    /// <summary>US SSN <c>AAA-GG-SSSS</c> (or with spaces), valid ranges only.</summary>
    private static int MatchSsn(ReadOnlySpan<char> text, int i)
    {
        if (i + 11 > text.Length)
        {
            return 0;
        }

        var s = text.Slice(i, 11);
        char sep = s[3];
        if (sep is not ('-' or ' ') || s[6] != sep
            || !IsDigits(s[..3]) || !IsDigits(s.Slice(4, 2)) || !IsDigits(s.Slice(7, 4)) || !IsBoundaryAfter(text, i + 11))
        {
            return 0;
        }

        int area = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        bool valid = area != 0 && area != 666 && area < 900 && !(s[4] == '0' && s[5] == '0') && !s.Slice(7, 4).SequenceEqual("0000");
        return valid ? i + 11 : 0;
    }

    private static bool IsDigits(ReadOnlySpan<char> s) => !s.ContainsAnyExceptInRange('0', '9');

    /// <summary>13–19 digits, single spaces or dashes between them; the longest Luhn-valid run that ends at a group's end.</summary>
    private static int MatchCard(ReadOnlySpan<char> text, int i)
    {
        Span<byte> digits = stackalloc byte[19];
        int count = 0;
        int pos = i;
        int best = 0;
        while (true)
        {
            while (pos < text.Length && char.IsAsciiDigit(text[pos]))
            {
                if (count == digits.Length)
                {
                    return best;
                }

                digits[count++] = (byte)(text[pos++] - '0');
            }

            if (count >= 13 && IsBoundaryAfter(text, pos) && IsLuhnValid(digits[..count]))
            {
                best = pos;
            }

            if (pos + 1 < text.Length && text[pos] is ' ' or '-' && char.IsAsciiDigit(text[pos + 1]))
            {
                pos++;
                continue;
            }

            return best;
        }
    }

    private static bool IsLuhnValid(ReadOnlySpan<byte> digits)
    {
        int sum = 0;
        bool nonZero = false;
        for (int n = digits.Length - 1, k = 0; n >= 0; n--, k++)
        {
            int d = digits[n];
            nonZero |= d != 0;
            if ((k & 1) == 1)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
        }

        return nonZero && sum % 10 == 0;
    }

    /// <summary>Dotted IPv4, octets 0–255 of 1–3 digits, not part of a longer dotted number.</summary>
    private static int MatchIPv4(ReadOnlySpan<char> text, int i)
    {
        int pos = ParseIPv4(text, i);
        if (pos == 0 || !IsBoundaryAfter(text, pos) || (pos + 1 < text.Length && text[pos] == '.' && char.IsAsciiDigit(text[pos + 1])))
        {
            return 0;
        }

        return pos;
    }

    /// <summary>The end of four dotted octets at <paramref name="i"/>, or 0.</summary>
    private static int ParseIPv4(ReadOnlySpan<char> text, int i)
    {
        int pos = i;
        for (int octet = 0; octet < 4; octet++)
        {
            if (octet > 0)
            {
                if (pos >= text.Length || text[pos] != '.')
                {
                    return 0;
                }

                pos++;
            }

            int value = 0;
            int start = pos;
            while (pos < text.Length && char.IsAsciiDigit(text[pos]))
            {
                if (pos - start == 3)
                {
                    return 0;
                }

                value = value * 10 + (text[pos++] - '0');
            }

            if (pos == start || value > 255)
            {
                return 0;
            }
        }

        return pos;
    }

    /// <summary>IPv6: 8 groups of 1–4 hex digits, or fewer with one <c>::</c>, optionally ending with an IPv4.</summary>
    private static int MatchIPv6(ReadOnlySpan<char> text, int i)
    {
        const int MaxLength = 45;
        int end = i;
        while (end < text.Length && end - i <= MaxLength && (char.IsAsciiHexDigit(text[end]) || text[end] is ':' or '.'))
        {
            end++;
        }

        if (end - i > MaxLength || !IsBoundaryAfter(text, end))
        {
            return 0;
        }

        while (end > i && text[end - 1] == '.')
        {
            end--;
        }

        return IsIPv6(text[i..end]) ? i + (end - i) : 0;
    }

    private static bool IsIPv6(ReadOnlySpan<char> s)
    {
        int pos = 0;
        int groups = 0;
        bool compressed = false;
        bool anyHex = false;
        if (s.StartsWith("::"))
        {
            compressed = true;
            pos = 2;
            if (pos == s.Length)
            {
                return false;
            }
        }

        while (true)
        {
            int start = pos;
            while (pos < s.Length && char.IsAsciiHexDigit(s[pos]) && pos - start < 5)
            {
                pos++;
            }

            if (pos < s.Length && s[pos] == '.')
            {
                // An IPv4 tail: two groups' worth, and the end.
                if (ParseIPv4(s, start) != s.Length)
                {
                    return false;
                }

                groups += 2;
                anyHex = true;
                break;
            }

            if (pos == start || pos - start > 4)
            {
                return false;
            }

            anyHex = true;
            groups++;
            if (pos == s.Length)
            {
                break;
            }

            if (s[pos] != ':')
            {
                return false;
            }

            pos++;
            if (pos < s.Length && s[pos] == ':')
            {
                if (compressed)
                {
                    return false;
                }

                compressed = true;
                pos++;
                if (pos == s.Length)
                {
                    break;
                }
            }
            else if (pos == s.Length)
            {
                return false;
            }
        }

        return anyHex && (compressed ? groups <= 7 : groups == 8);
    }

    /// <summary>
    /// <c>+</c> and 8–15 digits in groups; or a North American number in groups 3-3-4 or 1-3-3-4
    /// (leading 1), the area code possibly in parentheses. Separators: one space, dash or dot.
    /// </summary>
    private static int MatchPhone(ReadOnlySpan<char> text, int i)
    {
        const int MaxLength = 32;
        Span<int> groups = stackalloc int[8];
        int groupCount = 0;
        int digits = 0;
        int pos = i;
        bool plus = text[i] == '+';
        if (plus)
        {
            pos++;
        }

        while (true)
        {
            bool paren = pos < text.Length && text[pos] == '(';
            if (paren)
            {
                pos++;
            }

            int start = pos;
            while (pos < text.Length && char.IsAsciiDigit(text[pos]) && pos - i <= MaxLength)
            {
                pos++;
            }

            int length = pos - start;
            if (length == 0 || groupCount == groups.Length || pos - i > MaxLength)
            {
                return 0;
            }

            if (paren)
            {
                if (pos >= text.Length || text[pos] != ')')
                {
                    return 0;
                }

                pos++;
            }

            groups[groupCount++] = length;
            if (paren && pos < text.Length && char.IsAsciiDigit(text[pos]))
            {
                digits += length;
                continue;
            }

            digits += length;
            if (pos + 1 < text.Length && text[pos] is ' ' or '-' or '.' && (char.IsAsciiDigit(text[pos + 1]) || text[pos + 1] == '('))
            {
                pos++;
                continue;
            }

            if (pos < text.Length && text[pos] == '(')
            {
                continue;
            }

            break;
        }

        if (!IsBoundaryAfter(text, pos))
        {
            return 0;
        }

        if (plus)
        {
            return digits is >= 8 and <= 15 ? pos : 0;
        }

        var g = groups[..groupCount];
        bool nanp = g.SequenceEqual([3, 3, 4]) || (g.SequenceEqual([1, 3, 3, 4]) && text[i] == '1');
        return nanp ? pos : 0;
    }
}
