using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Beamline.Interop.Nats;

/// <summary>
/// A connection to NATS through the official C client (libnats). Thread-safe. Message handlers
/// run on the client's delivery threads; completions of requests run on the thread pool.
/// </summary>
/// <remarks>
/// Dispose (or drain) the connection to release it; do not dispose it from inside one of its own
/// message handlers.
/// </remarks>
public sealed partial class NatsConnection : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    private readonly string _url;
    private readonly Action<Exception>? _callbackErrorHandler;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NatsConnectionHandle _handle = null!;
    private int _disposed;

    private NatsConnection(NatsConnectionOptions options)
    {
        _url = options.Url;
        _callbackErrorHandler = options.CallbackErrorHandler;
        _sweepInterval = options.RequestSweepInterval;
    }

    /// <summary>Whether the connection is closed (after a drain, a dispose, or when reconnecting gave up).</summary>
    public bool IsClosed => _closed.Task.IsCompleted || _disposed != 0 || NativeMethods.ConnectionIsClosed(_handle);

    internal NatsConnectionHandle Handle => _handle;

    /// <summary>Connects to a server.</summary>
    /// <exception cref="NatsException">The connection failed; the message carries the client's status and error text.</exception>
    public static unsafe NatsConnection Connect(NatsConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var connection = new NatsConnection(options);
        using NatsOptionsHandle nativeOptions = CreateOptions(options);

        // The closure of the closed callback; that callback frees it, as the last thing nats.c calls.
        GCHandle self = GCHandle.Alloc(connection);
        int status = NativeMethods.OptionsSetClosedCallback(nativeOptions, &OnClosed, GCHandle.ToIntPtr(self));
        if (status != 0)
        {
            NatsException error = NatsException.FromStatus(status, "Could not set the closed callback");
            self.Free();
            throw error;
        }

        status = NativeMethods.ConnectionConnect(out NatsConnectionHandle handle, nativeOptions);
        if (status != 0)
        {
            // Read the thread's last error before anything else runs on this thread.
            NatsException error = NatsException.FromStatus(status, $"Could not connect to NATS at '{options.Url}'");
            handle.Dispose();

            // A failed connect never calls the closed callback.
            self.Free();
            throw error;
        }

        connection._handle = handle;
        return connection;
    }

    /// <summary>Sends everything buffered and waits for the server to acknowledge it.</summary>
    /// <exception cref="NatsException">The flush failed or timed out (<see cref="NatsTimeoutException"/>).</exception>
    public void Flush(TimeSpan timeout)
    {
        ThrowIfDisposed();
        int status = NativeMethods.ConnectionFlushTimeout(_handle, ToMilliseconds(timeout, nameof(timeout)));
        if (status != 0)
        {
            throw NatsException.FromStatus(status, "Could not flush the connection");
        }
    }

    /// <summary>Bytes published but not yet written to the socket (SendAsap off); 0 when closed.</summary>
    public int BufferedBytes
    {
        get
        {
            try
            {
                return Volatile.Read(ref _disposed) == 0 ? Math.Max(0, NativeMethods.ConnectionBuffered(_handle)) : 0;
            }
            catch (ObjectDisposedException)
            {
                return 0; // disposed on another thread meanwhile
            }
        }
    }

    /// <summary>
    /// Sends what the connection has buffered now (a PING, flushed in place, then waits up to
    /// <paramref name="timeout"/> for the PONG); false when the connection is closed, the write
    /// failed or the PONG did not come in time. Never throws: for message handlers that batch.
    /// </summary>
    public bool TryFlush(TimeSpan timeout)
    {
        var milliseconds = ToMilliseconds(timeout, nameof(timeout));
        try
        {
            return Volatile.Read(ref _disposed) == 0 && NativeMethods.ConnectionFlushTimeout(_handle, milliseconds) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false; // disposed on another thread meanwhile
        }
    }

    /// <summary>
    /// Drains the connection: stops every subscription from receiving new messages, lets their handlers
    /// finish what they have, flushes publishes, then closes. Completes when the connection is closed.
    /// </summary>
    /// <param name="timeout">The most the drain may take; past it the connection is closed anyway.</param>
    /// <param name="cancellationToken">Stops waiting (the drain itself goes on).</param>
    /// <exception cref="NatsException">The drain could not start (e.g. the connection is already closed).</exception>
    public Task DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        int status = NativeMethods.ConnectionDrainTimeout(_handle, ToMilliseconds(timeout, nameof(timeout)));
        if (status != 0)
        {
            // Read before any await: nats_GetLastError is per thread.
            return Task.FromException(NatsException.FromStatus(status, "Could not drain the connection"));
        }

        return _closed.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Closes the connection: destroys every subscription, closes, and fails the requests still waiting.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        StopSweeper();

        // Every handle that belongs to the connection goes before the connection is closed.
        foreach (NatsSubscription subscription in _subscriptions.Keys)
        {
            subscription.Dispose();
        }

        _mux?.Dispose();

        if (!_handle.IsClosed)
        {
            if (!NativeMethods.ConnectionIsClosed(_handle))
            {
                NativeMethods.ConnectionClose(_handle);
            }

            _handle.Dispose();
        }

        FailPending(new NatsException("The connection was closed.", NatsStatus.ConnectionClosed));
    }

    /// <summary>Disposes, then waits (a few seconds at most) for the client to report the connection closed.</summary>
    public async ValueTask DisposeAsync()
    {
        Dispose();
        try
        {
            await _closed.Task.WaitAsync(DisposeWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The client did not report the close in time; everything of ours is released already.
        }
    }

    internal void ReportCallbackError(Exception exception)
    {
        try
        {
            _callbackErrorHandler?.Invoke(exception);
        }
#pragma warning disable CA1031 // A handler's exception cannot go anywhere: native code is below us.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);

    internal static long ToMilliseconds(TimeSpan value, string paramName)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, value, "The timeout must be positive.");
        }

        return Math.Max(1L, (long)Math.Ceiling(value.TotalMilliseconds));
    }

    private static NatsOptionsHandle CreateOptions(NatsConnectionOptions options)
    {
        int status = NativeMethods.OptionsCreate(out NatsOptionsHandle handle);
        Check(status, "natsOptions_Create");
        try
        {
            Check(NativeMethods.OptionsSetUrl(handle, options.Url), "the URL");
            if (options.Name is not null)
            {
                Check(NativeMethods.OptionsSetName(handle, options.Name), "the name");
            }

            if (options.User is not null || options.Password is not null)
            {
                Check(NativeMethods.OptionsSetUserInfo(handle, options.User, options.Password), "the user and password");
            }

            if (options.Token is not null)
            {
                Check(NativeMethods.OptionsSetToken(handle, options.Token), "the token");
            }

            Check(NativeMethods.OptionsSetTimeout(handle, ToMilliseconds(options.ConnectTimeout, nameof(options.ConnectTimeout))), "the connect timeout");
            Check(NativeMethods.OptionsSetAllowReconnect(handle, options.AllowReconnect), "allow-reconnect");
            Check(NativeMethods.OptionsSetMaxReconnect(handle, options.MaxReconnect), "the reconnect limit");
            Check(NativeMethods.OptionsSetReconnectWait(handle, ToMilliseconds(options.ReconnectWait, nameof(options.ReconnectWait))), "the reconnect wait");
            Check(NativeMethods.OptionsSetReconnectBufSize(handle, options.ReconnectBufferSize), "the reconnect buffer size");
            Check(NativeMethods.OptionsSetPingInterval(handle, ToMilliseconds(options.PingInterval, nameof(options.PingInterval))), "the ping interval");
            Check(NativeMethods.OptionsSetMaxPendingMsgs(handle, options.MaxPendingMessages), "the pending limit");
            Check(NativeMethods.OptionsSetNoEcho(handle, options.NoEcho), "no-echo");
            Check(NativeMethods.OptionsSetSendAsap(handle, options.SendAsap), "send-asap");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        static void Check(int status, string what)
        {
            if (status != 0)
            {
                throw NatsException.FromStatus(status, $"Could not set {what} of the NATS options");
            }
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnClosed(nint nativeConnection, nint closure)
    {
        try
        {
            GCHandle self = GCHandle.FromIntPtr(closure);
            var connection = (NatsConnection)self.Target!;

            // Nothing calls back with this closure after the closed callback.
            self.Free();
            connection.StopSweeper();
            connection._closed.TrySetResult();
            connection.FailPending(new NatsException("The connection was closed.", NatsStatus.ConnectionClosed));
        }
#pragma warning disable CA1031 // An exception must not escape into native code.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
