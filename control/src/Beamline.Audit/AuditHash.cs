using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Beamline.Audit;

/// <summary>
/// The chain's hash: SHA-256 (lowercase hex) over a canonical, length-prefixed encoding of an
/// entry. The encoding is the domain string <c>beamline.audit.v1</c> followed by, in this order,
/// seq, time (Unix ms), kind, tenant_id, key_id, request_id, provider_id, policy_id, status,
/// cost_nanos, input_tokens, output_tokens, request_sha256, response_sha256, action, actor and
/// prev_hash, each as one tagged field: <c>0x00</c> for null; <c>0x01</c> + 8 bytes big-endian for
/// an integer; <c>0x02</c> + a 4-byte big-endian byte length + the UTF-8 bytes for a string. No two
/// different entries encode alike, whatever their strings contain.
/// </summary>
public static class AuditHash
{
    /// <summary>The previous hash of entry 1: 64 zeros.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>The encoding's domain string (its version).</summary>
    public const string Domain = "beamline.audit.v1";

    /// <summary>SHA-256 of <paramref name="data"/>, lowercase hex: how bodies are recorded.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>The hash <paramref name="entry"/> should carry (its own <see cref="AuditEntry.Hash"/> is ignored).</summary>
    public static string Compute(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new Encoder().Hash(entry);
    }

    /// <summary>Encodes and hashes entries, reusing one buffer: one per thread.</summary>
    internal sealed class Encoder
    {
        private byte[] _buffer = new byte[512];
        private int _length;

        public string Hash(AuditEntry entry)
        {
            _length = 0;
            String(Domain);
            Integer(entry.Seq);
            Integer(entry.Time.ToUnixTimeMilliseconds());
            String(entry.Kind);
            String(entry.TenantId);
            String(entry.KeyId);
            String(entry.RequestId);
            String(entry.ProviderId);
            String(entry.PolicyId);
            String(entry.Status);
            Integer(entry.CostNanos);
            Integer(entry.InputTokens);
            Integer(entry.OutputTokens);
            String(entry.RequestSha256);
            String(entry.ResponseSha256);
            String(entry.Action);
            String(entry.Actor);
            String(entry.PrevHash);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(_buffer.AsSpan(0, _length), hash);
            return Convert.ToHexStringLower(hash);
        }

        private void Integer(long value)
        {
            var span = Reserve(9);
            span[0] = 0x01;
            BinaryPrimitives.WriteInt64BigEndian(span[1..], value);
        }

        private void String(string? value)
        {
            if (value is null)
            {
                Reserve(1)[0] = 0x00;
                return;
            }
            var max = Encoding.UTF8.GetMaxByteCount(value.Length);
            var span = Reserve(5 + max);
            span[0] = 0x02;
            var written = Encoding.UTF8.GetBytes(value, span[5..]);
            BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)written);
            _length -= max - written; // give back what the string did not use
        }

        private Span<byte> Reserve(int count)
        {
            if (_length + count > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
            }
            var span = _buffer.AsSpan(_length, count);
            _length += count;
            return span;
        }
    }
}
