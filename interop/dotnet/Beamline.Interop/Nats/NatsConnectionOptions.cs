namespace Beamline.Interop.Nats;

/// <summary>Options for <see cref="NatsConnection.Connect"/>. Copied at connect time.</summary>
public sealed class NatsConnectionOptions
{
    /// <summary>The server URL(s), comma-separated. Defaults to <c>nats://127.0.0.1:4222</c>.</summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The connection's name, shown by the server's monitoring. Defaults to <see langword="null"/>.</summary>
    public string? Name { get; set; }

    /// <summary>User name for user/password authentication. Defaults to <see langword="null"/>.</summary>
    public string? User { get; set; }

    /// <summary>Password for user/password authentication. Defaults to <see langword="null"/>.</summary>
    public string? Password { get; set; }

    /// <summary>Token for token authentication. Defaults to <see langword="null"/>.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Send every publish at once instead of letting the client's flusher batch them. Defaults to
    /// <see langword="true"/>: without it, each reply sent from a message handler waits about 1 ms for the flusher.
    /// </summary>
    public bool SendAsap { get; set; } = true;

    /// <summary>How long connecting to one server may take. Defaults to 2 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Whether to reconnect after the connection is lost. Defaults to <see langword="true"/>.</summary>
    public bool AllowReconnect { get; set; } = true;

    /// <summary>Reconnect attempts per server before giving up; -1 for no limit. Defaults to 60.</summary>
    public int MaxReconnect { get; set; } = 60;

    /// <summary>The wait between two reconnect attempts to the same server. Defaults to 2 seconds.</summary>
    public TimeSpan ReconnectWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bytes buffered for publishes while reconnecting. Defaults to 8 MiB.</summary>
    public int ReconnectBufferSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>The interval between pings to the server. Defaults to 2 minutes.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Messages a subscription may hold before it is a slow consumer. Defaults to 65536.</summary>
    public int MaxPendingMessages { get; set; } = 65536;

    /// <summary>Do not deliver this connection's own publishes to its subscriptions. Defaults to <see langword="false"/>.</summary>
    public bool NoEcho { get; set; }

    /// <summary>
    /// How often pending requests are checked for their timeout (one shared sweeper per connection,
    /// not a timer per request): the precision of request timeouts. Defaults to 10 ms.
    /// </summary>
    public TimeSpan RequestSweepInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Receives exceptions thrown by message handlers (which cannot propagate into native code).
    /// Runs on the delivery thread. Defaults to <see langword="null"/>: such exceptions are dropped.
    /// </summary>
    public Action<Exception>? CallbackErrorHandler { get; set; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Url, nameof(Url));
        ThrowIfNotPositive(ConnectTimeout, nameof(ConnectTimeout));
        ThrowIfNotPositive(ReconnectWait, nameof(ReconnectWait));
        ThrowIfNotPositive(PingInterval, nameof(PingInterval));
        ThrowIfNotPositive(RequestSweepInterval, nameof(RequestSweepInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnect, -1, nameof(MaxReconnect));
        ArgumentOutOfRangeException.ThrowIfNegative(ReconnectBufferSize, nameof(ReconnectBufferSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxPendingMessages, nameof(MaxPendingMessages));
        if (Token is not null && (User is not null || Password is not null))
        {
            throw new ArgumentException("Set either Token or User/Password, not both.", nameof(Token));
        }
    }

    private static void ThrowIfNotPositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }
}
