using System.Buffers.Text;
using System.Text;

namespace Beamline.Interop.Nats;

/// <summary>A reply to a request: a copy of the message, safe to keep.</summary>
public readonly struct NatsReply
{
    // A reply that arrived on the connection's shared inbox knows its subject without reading it
    // from the message: "<inbox prefix><token>". The string is built only when someone asks.
    private readonly string? _subject;
    private readonly byte[]? _inboxPrefix;
    private readonly long _token;

    /// <summary>Creates a reply.</summary>
    public NatsReply(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers)
    {
        _subject = subject;
        Data = data;
        Headers = headers;
    }

    private NatsReply(byte[] inboxPrefix, long token, ReadOnlyMemory<byte> data, NatsHeaders? headers)
    {
        _inboxPrefix = inboxPrefix;
        _token = token;
        Data = data;
        Headers = headers;
    }

    /// <summary>The subject the reply arrived on (the request's inbox).</summary>
    public string Subject => _subject ?? InboxSubject();

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>
    /// The headers, or <see langword="null"/> when the reply had none (or the request asked for
    /// <see cref="NatsReplyHeaders.Skip"/>).
    /// </summary>
    public NatsHeaders? Headers { get; }

    /// <summary>Copies a received message that arrived on the shared inbox with <paramref name="token"/>.</summary>
    internal static unsafe NatsReply FromInboxMessage(nint msg, byte[] inboxPrefix, long token, NatsReplyHeaders headers)
    {
        int len = NativeMethods.MsgGetDataLength(msg);
        byte[] data = len == 0 ? [] : new ReadOnlySpan<byte>(NativeMethods.MsgGetData(msg), len).ToArray();
        return new NatsReply(inboxPrefix, token, data, headers == NatsReplyHeaders.Read ? NatsHeaders.FromMessage(msg) : null);
    }

    private string InboxSubject()
    {
        if (_inboxPrefix is null)
        {
            return null!; // default(NatsReply), as before
        }

        Span<byte> subject = stackalloc byte[_inboxPrefix.Length + 20];
        _inboxPrefix.CopyTo(subject);
        Utf8Formatter.TryFormat(_token, subject[_inboxPrefix.Length..], out int written);
        return Encoding.UTF8.GetString(subject[..(_inboxPrefix.Length + written)]);
    }
}

/// <summary>Whether a request copies its reply's headers.</summary>
public enum NatsReplyHeaders
{
    /// <summary>Copy them into <see cref="NatsReply.Headers"/> (the default).</summary>
    Read,

    /// <summary>
    /// Leave them: <see cref="NatsReply.Headers"/> is <see langword="null"/>. Saves parsing and copying
    /// them (several native calls and allocations) for callers that only read the payload.
    /// </summary>
    Skip,
}
