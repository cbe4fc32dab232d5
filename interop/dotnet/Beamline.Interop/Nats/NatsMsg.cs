using System.Runtime.InteropServices;

namespace Beamline.Interop.Nats;

/// <summary>Handles one message of a subscription, on the NATS client's delivery thread: must not block.</summary>
/// <param name="msg">The message, valid only during the call.</param>
public delegate void NatsMessageHandler(NatsMsg msg);

/// <summary>
/// A received message, valid only while the handler that got it runs (the native message is
/// destroyed when it returns). Copy <see cref="Data"/> to keep it.
/// </summary>
public readonly unsafe ref struct NatsMsg
{
    private readonly nint _msg;
    private readonly NatsConnection _connection;

    internal NatsMsg(nint msg, NatsConnection connection)
    {
        _msg = msg;
        _connection = connection;
    }

    /// <summary>The subject the message was published to.</summary>
    public string Subject => NatsHeaders.Utf8Z(NativeMethods.MsgGetSubject(_msg));

    /// <summary>The reply subject, or <see langword="null"/> when the sender expects no reply.</summary>
    public string? ReplyTo
    {
        get
        {
            byte* reply = NativeMethods.MsgGetReply(_msg);
            return reply is null ? null : NatsHeaders.Utf8Z(reply);
        }
    }

    /// <summary>The payload, owned by the native message.</summary>
    public ReadOnlySpan<byte> Data
    {
        get
        {
            int len = NativeMethods.MsgGetDataLength(_msg);
            return len == 0 ? default : new ReadOnlySpan<byte>(NativeMethods.MsgGetData(_msg), len);
        }
    }

    /// <summary>The first value of header <paramref name="key"/> (case-sensitive), or <see langword="null"/>.</summary>
    public string? GetHeader(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        byte* value = null;
        return NativeMethods.MsgHeaderGet(_msg, key, &value) == 0 && value is not null
            ? NatsHeaders.Utf8Z(value)
            : null;
    }

    /// <summary>A copy of every header, or <see langword="null"/> when there are none.</summary>
    public NatsHeaders? GetHeaders() => NatsHeaders.FromMessage(_msg);

    /// <summary>Publishes a reply to <see cref="ReplyTo"/>.</summary>
    /// <exception cref="InvalidOperationException">The message has no reply subject.</exception>
    /// <exception cref="NatsException">The publish failed.</exception>
    public void Respond(ReadOnlySpan<byte> data, NatsHeaders? headers = null)
    {
        byte* reply = NativeMethods.MsgGetReply(_msg);
        if (reply is null || *reply == 0)
        {
            throw new InvalidOperationException("The message has no reply subject to respond to.");
        }

        _connection.PublishRaw(reply, data, headers);
    }

    /// <summary>
    /// Publishes a reply to <see cref="ReplyTo"/> on <paramref name="connection"/> (to the same
    /// servers) instead of the connection the message came in on: a handler can send a reply at
    /// once on a SendAsap connection while it batches others on its own.
    /// </summary>
    /// <exception cref="InvalidOperationException">The message has no reply subject.</exception>
    /// <exception cref="NatsException">The publish failed.</exception>
    public void RespondOn(NatsConnection connection, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(connection);
        byte* reply = NativeMethods.MsgGetReply(_msg);
        if (reply is null || *reply == 0)
        {
            throw new InvalidOperationException("The message has no reply subject to respond to.");
        }
        connection.PublishRaw(reply, data, headers: null);
    }
}
