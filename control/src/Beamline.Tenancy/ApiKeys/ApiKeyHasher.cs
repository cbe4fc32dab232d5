using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Beamline.Tenancy.ApiKeys;

/// <summary>
/// Hashes API keys as <c>HMAC-SHA256(key: pepper, message: ASCII of the whole key)</c>.
/// </summary>
/// <remarks>
/// A slow password hash (PBKDF2, Argon2) protects low-entropy secrets that people choose; these
/// secrets are 256 random bits, so no guessing attack exists to slow down, and a fast keyed hash
/// keeps authentication at about a microsecond on every request. The pepper (a per-deployment
/// secret kept outside the database) means a stolen database alone cannot even check a guess.
/// Hashing the whole key binds the hash to its key id, so a row cannot be moved to another id.
/// </remarks>
public sealed class ApiKeyHasher
{
    /// <summary>Bytes in a hash.</summary>
    public const int HashSize = HMACSHA256.HashSizeInBytes;

    private readonly byte[] _pepper;

    /// <summary>A hasher for one deployment's pepper.</summary>
    public ApiKeyHasher(ReadOnlySpan<byte> pepper)
    {
        if (pepper.Length < 16)
        {
            throw new ArgumentException("The pepper must be at least 16 bytes.", nameof(pepper));
        }
        _pepper = pepper.ToArray();
    }

    /// <summary>
    /// Writes the hash of a well-formed key into <paramref name="destination"/>
    /// (<see cref="HashSize"/> bytes). Allocation-free; false for a key that is not well-formed.
    /// </summary>
    public bool TryHash(ReadOnlySpan<char> key, Span<byte> destination)
    {
        if (!ApiKeyFormat.TryParse(key, out _, out _) || destination.Length < HashSize)
        {
            return false;
        }
        Span<byte> message = stackalloc byte[ApiKeyFormat.MaxLength];
        var length = Encoding.ASCII.GetBytes(key, message);
        HMACSHA256.HashData(_pepper, message[..length], destination);
        return true;
    }

    /// <summary>The hash of a well-formed key, in unpadded base64url (the config file's <c>key_hash</c>).</summary>
    public string HashToString(string key)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        if (!TryHash(key, hash))
        {
            throw new ArgumentException("Not a well-formed API key.", nameof(key));
        }
        return Base64Url.EncodeToString(hash);
    }

    /// <summary>Whether <paramref name="key"/> hashes to <paramref name="expected"/>; constant-time compare.</summary>
    public bool Verify(ReadOnlySpan<char> key, ReadOnlySpan<byte> expected)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        return TryHash(key, hash) && CryptographicOperations.FixedTimeEquals(hash, expected);
    }
}
