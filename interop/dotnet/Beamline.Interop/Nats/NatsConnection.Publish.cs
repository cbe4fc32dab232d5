namespace Beamline.Interop.Nats;

public sealed partial class NatsConnection
{
    /// <summary>Publishes a message.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="data">The payload (copied before this returns).</param>
    /// <param name="replyTo">The reply subject, if the receiver should answer.</param>
    /// <param name="headers">Headers to send (needs a server with header support).</param>
    /// <exception cref="NatsException">The publish failed (closed connection, payload too large ...).</exception>
    public unsafe void Publish(string subject, ReadOnlySpan<byte> data, string? replyTo = null, NatsHeaders? headers = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ThrowIfDisposed();

        int status;
        fixed (byte* dataPtr = data)
        {
            if (headers is null || headers.Count == 0)
            {
                status = replyTo is null
                    ? NativeMethods.ConnectionPublish(_handle, subject, dataPtr, data.Length)
                    : NativeMethods.ConnectionPublishRequest(_handle, subject, replyTo, dataPtr, data.Length);
            }
            else
            {
                nint msg = 0;
                status = NativeMethods.MsgCreate(&msg, subject, replyTo, dataPtr, data.Length);
                PublishMessage(msg, status, headers, subject, null);
                return;
            }
        }

        if (status != 0)
        {
            throw NatsException.FromStatus(status, $"Could not publish to '{subject}'");
        }
    }

    /// <summary>Publishes to a subject the library owns (a received message's reply subject).</summary>
    internal unsafe void PublishRaw(byte* subject, ReadOnlySpan<byte> data, NatsHeaders? headers)
    {
        ThrowIfDisposed();
        int status;
        fixed (byte* dataPtr = data)
        {
            if (headers is null || headers.Count == 0)
            {
                status = NativeMethods.ConnectionPublish(_handle, subject, dataPtr, data.Length);
            }
            else
            {
                nint msg = 0;
                status = NativeMethods.MsgCreate(&msg, subject, null, dataPtr, data.Length);
                PublishMessage(msg, status, headers, null, subject);
                return;
            }
        }

        if (status != 0)
        {
            throw NatsException.FromStatus(status, $"Could not publish to '{NatsHeaders.Utf8Z(subject)}'");
        }
    }

    /// <summary>Adds the headers to a created message, publishes it and destroys it; throws on failure.</summary>
    private unsafe void PublishMessage(nint msg, int createStatus, NatsHeaders headers, string? subject, byte* rawSubject)
    {
        if (createStatus != 0)
        {
            throw NatsException.FromStatus(createStatus, $"Could not create a message for '{subject ?? NatsHeaders.Utf8Z(rawSubject)}'");
        }

        try
        {
            int status = headers.CopyTo(msg);
            if (status == 0)
            {
                status = NativeMethods.ConnectionPublishMsg(_handle, msg);
            }

            if (status != 0)
            {
                // Built (and the last error read) before the finally block destroys the message.
                throw NatsException.FromStatus(status, $"Could not publish to '{subject ?? NatsHeaders.Utf8Z(rawSubject)}'");
            }
        }
        finally
        {
            NativeMethods.MsgDestroy(msg);
        }
    }
}
