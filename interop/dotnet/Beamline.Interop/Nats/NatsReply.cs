namespace Beamline.Interop.Nats;

/// <summary>A reply to a request: a copy of the message, safe to keep.</summary>
public readonly struct NatsReply
{
    /// <summary>Creates a reply.</summary>
    public NatsReply(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers)
    {
        Subject = subject;
        Data = data;
        Headers = headers;
    }

    /// <summary>The subject the reply arrived on (the request's inbox).</summary>
    public string Subject { get; }

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The headers, or <see langword="null"/> when the reply had none.</summary>
    public NatsHeaders? Headers { get; }

    /// <summary>Copies a received message.</summary>
    internal static unsafe NatsReply FromMessage(nint msg)
    {
        int len = NativeMethods.MsgGetDataLength(msg);
        byte[] data = len == 0 ? [] : new ReadOnlySpan<byte>(NativeMethods.MsgGetData(msg), len).ToArray();
        return new NatsReply(NatsHeaders.Utf8Z(NativeMethods.MsgGetSubject(msg)), data, NatsHeaders.FromMessage(msg));
    }
}
