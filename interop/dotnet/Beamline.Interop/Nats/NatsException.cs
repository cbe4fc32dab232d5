using System.Runtime.InteropServices;
using System.Text;

namespace Beamline.Interop.Nats;

/// <summary>A NATS operation failed.</summary>
public class NatsException : Exception
{
    /// <summary>Creates an exception.</summary>
    public NatsException()
        : this("A NATS operation failed.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public NatsException(string message)
        : this(message, NatsStatus.Error)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public NatsException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = NatsStatus.Error;
    }

    /// <summary>Creates an exception with a message and the client's status.</summary>
    public NatsException(string message, NatsStatus status)
        : base(message)
    {
        Status = status;
    }

    /// <summary>Creates an exception with a message, the client's status and the cause.</summary>
    protected NatsException(string message, NatsStatus status, Exception? innerException)
        : base(message, innerException)
    {
        Status = status;
    }

    /// <summary>The NATS C client's status code.</summary>
    public NatsStatus Status { get; }

    /// <summary>
    /// Builds the exception for a failed call from the status and the thread's last error text.
    /// Call it right after the failing call, on the same thread: <c>nats_GetLastError</c> is per thread.
    /// </summary>
    internal static unsafe NatsException FromStatus(int status, string what)
    {
        // Read the thread's last error before anything else can overwrite it.
        int lastStatus = 0;
        byte* lastError = NativeMethods.GetLastError(&lastStatus);
        string? detail = lastError is null ? null : Marshal.PtrToStringUTF8((nint)lastError);
        byte* text = NativeMethods.StatusGetText(status);
        string statusText = text is null ? ((NatsStatus)status).ToString() : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;

        var message = new StringBuilder(what.Length + 64).Append(what).Append(": ").Append(statusText);
        if (!string.IsNullOrEmpty(detail) && !string.Equals(detail, statusText, StringComparison.Ordinal))
        {
            message.Append(" (").Append(detail).Append(')');
        }

        return (NatsStatus)status switch
        {
            NatsStatus.Timeout => new NatsTimeoutException(message.ToString()),
            NatsStatus.NoResponders => new NatsNoRespondersException(message.ToString()),
            _ => new NatsException(message.ToString(), (NatsStatus)status),
        };
    }
}

/// <summary>A request got no reply in time.</summary>
public sealed class NatsTimeoutException : NatsException
{
    /// <summary>Creates an exception.</summary>
    public NatsTimeoutException()
        : this("The NATS request timed out.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public NatsTimeoutException(string message)
        : base(message, NatsStatus.Timeout)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public NatsTimeoutException(string message, Exception innerException)
        : base(message, NatsStatus.Timeout, innerException)
    {
    }
}

/// <summary>
/// Nobody subscribes to a request's subject: the server answered at once with a
/// "no responders" status message (<c>NATS/1.0 503</c>) on the reply inbox.
/// </summary>
public sealed class NatsNoRespondersException : NatsException
{
    /// <summary>Creates an exception.</summary>
    public NatsNoRespondersException()
        : this("No responders are available for the NATS request.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public NatsNoRespondersException(string message)
        : base(message, NatsStatus.NoResponders)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public NatsNoRespondersException(string message, Exception innerException)
        : base(message, NatsStatus.NoResponders, innerException)
    {
    }
}
