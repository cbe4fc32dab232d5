using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Nats;

/// <summary>
/// Watches the NATS connection: logs disconnects, reconnects, slow consumers and dropped
/// messages; answers what <c>/healthz</c> reports; and gives requests an outage token that is
/// cancelled when the connection drops, so that nothing waits out its whole deadline for a reply
/// that can no longer arrive.
/// </summary>
public sealed partial class NatsConnectionMonitor
{
    private readonly INatsConnection _connection;
    private readonly ILogger<NatsConnectionMonitor> _logger;
    private CancellationTokenSource _outage = new();
    private long _droppedMessages;

    /// <summary>Starts watching <paramref name="connection"/>.</summary>
    public NatsConnectionMonitor(INatsConnection connection, ILogger<NatsConnectionMonitor> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(logger);
        _connection = connection;
        _logger = logger;
        connection.ConnectionOpened += OnOpenedAsync;
        connection.ConnectionDisconnected += OnDisconnectedAsync;
        connection.ReconnectFailed += OnReconnectFailedAsync;
        connection.SlowConsumerDetected += OnSlowConsumerAsync;
        connection.MessageDropped += OnMessageDroppedAsync;
        connection.LameDuckModeActivated += OnLameDuckAsync;
        connection.ServerError += OnServerErrorAsync;
    }

    /// <summary>Whether the connection is open now.</summary>
    public bool IsConnected => _connection.ConnectionState == NatsConnectionState.Open;

    /// <summary>
    /// The state in the words of <c>/healthz</c>: connected, reconnecting (including a first
    /// connection still being retried, which NATS.Net reports as Closed) or closed (given up).
    /// </summary>
    public string State => _connection.ConnectionState switch
    {
        NatsConnectionState.Open => "connected",
        NatsConnectionState.Failed => "closed",
        _ => "reconnecting",
    };

    /// <summary>The id of the server the connection is on; null while not connected.</summary>
    public string? ServerId => IsConnected ? _connection.ServerInfo?.Id : null;

    /// <summary>Messages the client dropped because a subscriber could not keep up.</summary>
    public long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    /// <summary>
    /// Cancelled when the connection drops. Take it before checking <see cref="IsConnected"/>:
    /// a request that saw the connection open then learns of a drop through this token.
    /// </summary>
    public CancellationToken OutageToken => Volatile.Read(ref _outage).Token;

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        if (Volatile.Read(ref _outage).IsCancellationRequested)
        {
            Volatile.Write(ref _outage, new CancellationTokenSource());
        }
        LogConnected(_connection.ServerInfo?.Host ?? "?", _connection.ServerInfo?.Port ?? 0, _connection.ServerInfo?.Id ?? "?");
        return ValueTask.CompletedTask;
    }

    private async ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        LogDisconnected(args.Message);
        // Not disposed: a request may still be registering on it; the GC takes it.
        await Volatile.Read(ref _outage).CancelAsync().ConfigureAwait(false);
    }

    private ValueTask OnReconnectFailedAsync(object? sender, NatsEventArgs args)
    {
        LogReconnectFailed(args.Message);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnSlowConsumerAsync(object? sender, NatsSlowConsumerEventArgs args)
    {
        LogSlowConsumer(args.Subscription.Subject);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnMessageDroppedAsync(object? sender, NatsMessageDroppedEventArgs args)
    {
        // The slow-consumer event says so once per episode; this counts every message.
        Interlocked.Increment(ref _droppedMessages);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnLameDuckAsync(object? sender, NatsLameDuckModeActivatedEventArgs args)
    {
        LogLameDuck(args.Uri.ToString());
        return ValueTask.CompletedTask;
    }

    private ValueTask OnServerErrorAsync(object? sender, NatsServerErrorEventArgs args)
    {
        LogServerError(args.Error);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "NATS connected: {Host}:{Port} (server {ServerId}).")]
    private partial void LogConnected(string host, int port, string serverId);

    [LoggerMessage(2, LogLevel.Warning, "NATS disconnected ({Reason}); reconnecting. Requests fail fast until it is back.")]
    private partial void LogDisconnected(string reason);

    [LoggerMessage(3, LogLevel.Information, "NATS reconnect attempt failed: {Reason}")]
    private partial void LogReconnectFailed(string reason);

    [LoggerMessage(4, LogLevel.Warning, "NATS slow consumer on {Subject}: messages are being dropped.")]
    private partial void LogSlowConsumer(string subject);

    [LoggerMessage(5, LogLevel.Warning, "NATS server {Server} entered lame duck mode: it will close connections soon.")]
    private partial void LogLameDuck(string server);

    [LoggerMessage(6, LogLevel.Error, "NATS server error: {Error}")]
    private partial void LogServerError(string error);
}
