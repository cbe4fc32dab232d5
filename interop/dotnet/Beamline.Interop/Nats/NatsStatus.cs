namespace Beamline.Interop.Nats;

/// <summary>The status codes of the NATS C client (<c>natsStatus</c> in nats.c 3.4).</summary>
public enum NatsStatus
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>A generic error.</summary>
    Error,
    /// <summary>A protocol message could not be parsed.</summary>
    ProtocolError,
    /// <summary>An I/O error on the network.</summary>
    IOError,
    /// <summary>A protocol message was too long.</summary>
    LineTooLong,
    /// <summary>The connection is closed.</summary>
    ConnectionClosed,
    /// <summary>No server could be reached.</summary>
    NoServer,
    /// <summary>The server closed the connection as stale.</summary>
    StaleConnection,
    /// <summary>TLS was wanted by the client but the server does not offer it.</summary>
    SecureConnectionWanted,
    /// <summary>The server requires TLS.</summary>
    SecureConnectionRequired,
    /// <summary>The connection was disconnected.</summary>
    ConnectionDisconnected,
    /// <summary>Authentication failed.</summary>
    ConnectionAuthFailed,
    /// <summary>The action is not permitted.</summary>
    NotPermitted,
    /// <summary>Something was not found.</summary>
    NotFound,
    /// <summary>A URL lacks an address.</summary>
    AddressMissing,
    /// <summary>An invalid subject.</summary>
    InvalidSubject,
    /// <summary>An invalid argument.</summary>
    InvalidArgument,
    /// <summary>The subscription is closed or invalid.</summary>
    InvalidSubscription,
    /// <summary>An invalid timeout.</summary>
    InvalidTimeout,
    /// <summary>An unexpected state.</summary>
    IllegalState,
    /// <summary>A subscriber could not keep up: messages were dropped.</summary>
    SlowConsumer,
    /// <summary>The payload exceeds the server's maximum.</summary>
    MaxPayload,
    /// <summary>More messages than allowed were delivered.</summary>
    MaxDeliveredMsgs,
    /// <summary>A buffer is too small.</summary>
    InsufficientBuffer,
    /// <summary>Out of memory.</summary>
    NoMemory,
    /// <summary>A system call failed.</summary>
    SystemError,
    /// <summary>An operation timed out.</summary>
    Timeout,
    /// <summary>The library failed to initialise.</summary>
    FailedToInitialize,
    /// <summary>The library is not initialised.</summary>
    NotInitialized,
    /// <summary>A TLS error.</summary>
    SslError,
    /// <summary>The server does not support the action.</summary>
    NoServerSupport,
    /// <summary>Not yet connected (retrying in the background).</summary>
    NotYetConnected,
    /// <summary>The connection or subscription is draining.</summary>
    Draining,
    /// <summary>An invalid queue group name.</summary>
    InvalidQueueName,
    /// <summary>Nobody subscribes to the request's subject.</summary>
    NoResponders,
    /// <summary>A JetStream consumer sequence mismatch.</summary>
    Mismatch,
    /// <summary>JetStream heartbeats were missed.</summary>
    MissedHeartbeat,
}
