using System.Text;

namespace Beamline.SharedState;

/// <summary>KV key tokens: ids as they are when they are plain, escaped otherwise.</summary>
public static class KvKeys
{
    /// <summary>
    /// <paramref name="id"/> as one key token: letters, digits, '-' and '_' stay; every other
    /// UTF-8 byte becomes <c>=XX</c> (hex), so that no id can add a token or an invalid character.
    /// </summary>
    public static string Token(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var plain = true;
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                plain = false;
                break;
            }
        }
        if (plain && id.Length > 0)
        {
            return id;
        }
        var builder = new StringBuilder(id.Length * 3 + 1);
        builder.Append('=');
        foreach (var b in Encoding.UTF8.GetBytes(id))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('=').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }

    /// <summary>The id of a token made by <see cref="Token"/>.</summary>
    public static string Id(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (!token.StartsWith('='))
        {
            return token;
        }
        var bytes = new List<byte>(token.Length);
        for (var i = 1; i < token.Length; i++)
        {
            if (token[i] == '=' && i + 2 < token.Length)
            {
                bytes.Add(Convert.ToByte(token.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.Add((byte)token[i]);
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
