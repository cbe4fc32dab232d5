using System.Buffers.Text;
using System.Security.Cryptography;

namespace Beamline.Tenancy.ApiKeys;

/// <summary>
/// API keys look like <c>bl_&lt;key-id&gt;_&lt;secret&gt;</c>: the key id is public (1–64 of
/// <c>[A-Za-z0-9-]</c>, no underscore), the secret is 32 random bytes in unpadded base64url
/// (43 characters, which may themselves contain <c>_</c> and <c>-</c>).
/// </summary>
public static class ApiKeyFormat
{
    /// <summary>Every key starts with this.</summary>
    public const string Prefix = "bl_";

    /// <summary>The longest key id.</summary>
    public const int MaxKeyIdLength = 64;

    /// <summary>Random bytes in a secret.</summary>
    public const int SecretBytes = 32;

    /// <summary>Characters in a secret: 32 bytes in unpadded base64url.</summary>
    public const int SecretLength = 43;

    /// <summary>The longest well-formed key.</summary>
    public const int MaxLength = 3 + MaxKeyIdLength + 1 + SecretLength;

    /// <summary>
    /// Splits a key into its id and secret; false (never an exception) for anything that is not
    /// a well-formed key. Allocation-free.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> key, out ReadOnlySpan<char> keyId, out ReadOnlySpan<char> secret)
    {
        keyId = default;
        secret = default;
        if (key.Length > MaxLength || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = key[Prefix.Length..];
        var separator = rest.IndexOf('_');
        if (separator <= 0 || !IsValidKeyId(rest[..separator]))
        {
            return false;
        }
        var candidate = rest[(separator + 1)..];
        if (candidate.Length != SecretLength)
        {
            return false;
        }
        foreach (var c in candidate)
        {
            if (!IsBase64UrlChar(c))
            {
                return false;
            }
        }
        keyId = rest[..separator];
        secret = candidate;
        return true;
    }

    /// <summary>Whether <paramref name="keyId"/> can be a key id.</summary>
    public static bool IsValidKeyId(ReadOnlySpan<char> keyId)
    {
        if (keyId.IsEmpty || keyId.Length > MaxKeyIdLength)
        {
            return false;
        }
        foreach (var c in keyId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A new random key id: 16 lowercase hex characters.</summary>
    public static string NewKeyId() => RandomNumberGenerator.GetHexString(16, lowercase: true);

    /// <summary>A new key with the given id and a fresh secret from <see cref="RandomNumberGenerator"/>.</summary>
    public static string Create(string keyId)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        if (!IsValidKeyId(keyId))
        {
            throw new ArgumentException($"'{keyId}' is not a valid key id.", nameof(keyId));
        }
        Span<byte> secret = stackalloc byte[SecretBytes];
        RandomNumberGenerator.Fill(secret);
        var key = string.Concat(Prefix, keyId, "_", Base64Url.EncodeToString(secret));
        CryptographicOperations.ZeroMemory(secret);
        return key;
    }

    private static bool IsBase64UrlChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
}
