using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Beamline.Interop.Nats;

/// <summary>
/// An asynchronous subscription. Its handler runs on a delivery thread of the NATS client. Dispose
/// (or unsubscribe, or drain) to stop it; <see cref="Completion"/> completes once the client is
/// done with it and its handler will not run again.
/// </summary>
public sealed class NatsSubscription : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    private readonly NatsConnection _connection;
    private readonly NatsMessageHandler? _handler;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NatsSubscriptionHandle _handle = null!;
    private int _disposed;

    /// <summary>A subscription whose messages go to <paramref name="handler"/>, or, when it is null, to the connection's request inbox.</summary>
    internal NatsSubscription(NatsConnection connection, string subject, string? queueGroup, NatsMessageHandler? handler)
    {
        _connection = connection;
        Subject = subject;
        QueueGroup = queueGroup;
        _handler = handler;
    }

    /// <summary>The subject subscribed to.</summary>
    public string Subject { get; }

    /// <summary>The queue group, or <see langword="null"/>.</summary>
    public string? QueueGroup { get; }

    /// <summary>Completes once the subscription is closed and its handler has returned for the last time.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Messages received and waiting for the handler (not counting the one it is handling); 0 when
    /// the subscription is closed. Lets a handler batch replies and flush when the queue runs dry.
    /// </summary>
    public int PendingMessages
    {
        get
        {
            try
            {
                return Volatile.Read(ref _disposed) == 0 && NativeMethods.SubscriptionGetPending(_handle, out var messages, out _) == 0 ? messages : 0;
            }
            catch (ObjectDisposedException)
            {
                return 0; // disposed on another thread meanwhile
            }
        }
    }

    /// <summary>Stops delivery at once (messages already received but not handled are dropped).</summary>
    /// <exception cref="NatsException">The unsubscribe failed for another reason than the subscription being closed.</exception>
    public void Unsubscribe()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int status = NativeMethods.SubscriptionUnsubscribe(_handle);
        if (status != 0 && !IsAlreadyClosed(status))
        {
            throw NatsException.FromStatus(status, $"Could not unsubscribe from '{Subject}'");
        }
    }

    /// <summary>Stops receiving new messages, lets the handler finish those already received, then closes.</summary>
    /// <param name="timeout">The most the drain may take; past it the subscription is closed anyway.</param>
    /// <param name="cancellationToken">Stops waiting (the drain itself goes on).</param>
    public Task DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int status = NativeMethods.SubscriptionDrainTimeout(_handle, NatsConnection.ToMilliseconds(timeout, nameof(timeout)));
        if (status != 0)
        {
            return Task.FromException(NatsException.FromStatus(status, $"Could not drain the subscription to '{Subject}'"));
        }

        return _completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Unsubscribes (when still open) and releases the native subscription.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _connection.Forget(this);
        if (_handle is null || _handle.IsClosed)
        {
            return;
        }

        if (!_completion.Task.IsCompleted)
        {
            // Errors are moot here: a closed subscription or connection is what we want.
            _ = NativeMethods.SubscriptionUnsubscribe(_handle);
        }

        // nats.c keeps its own reference while the delivery thread runs; the GCHandle is freed
        // by the completion callback, after the handler returned for the last time.
        _handle.Dispose();
    }

    /// <summary>Disposes, then waits (a few seconds at most) until the handler will not run again.</summary>
    public async ValueTask DisposeAsync()
    {
        Dispose();
        try
        {
            await _completion.Task.WaitAsync(DisposeWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The native side did not report completion in time; our handles are released already.
        }
    }

    /// <summary>Creates the native subscription.</summary>
    internal unsafe void Start()
    {
        GCHandle self = GCHandle.Alloc(this);
        nint closure = GCHandle.ToIntPtr(self);
        NatsSubscriptionHandle handle;
        int status = QueueGroup is null
            ? NativeMethods.ConnectionSubscribe(out handle, _connection.Handle, Subject, &OnMessage, closure)
            : NativeMethods.ConnectionQueueSubscribe(out handle, _connection.Handle, Subject, QueueGroup, &OnMessage, closure);
        if (status != 0)
        {
            NatsException error = NatsException.FromStatus(status, $"Could not subscribe to '{Subject}'");
            handle.Dispose();
            self.Free();
            throw error;
        }

        status = NativeMethods.SubscriptionSetOnCompleteCallback(handle, &OnComplete, closure);
        if (status != 0)
        {
            // The subscription closed before its completion callback was set (the connection is
            // closing). Its delivery thread may still hold the closure, so the GCHandle is
            // deliberately kept: a few bytes leaked rather than a callback into freed memory.
            NatsException error = NatsException.FromStatus(status, $"Could not subscribe to '{Subject}'");
            handle.Dispose();
            _completion.TrySetResult();
            throw error;
        }

        _handle = handle;
    }

    private void Deliver(nint msg)
    {
        if (_handler is null)
        {
            _connection.OnInboxMessage(msg);
            return;
        }

        try
        {
            _handler(new NatsMsg(msg, _connection));
        }
#pragma warning disable CA1031 // A handler's exception must not reach native code.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _connection.ReportCallbackError(ex);
        }
    }

    private static bool IsAlreadyClosed(int status) =>
        (NatsStatus)status is NatsStatus.InvalidSubscription or NatsStatus.ConnectionClosed;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMessage(nint nativeConnection, nint nativeSubscription, nint msg, nint closure)
    {
        if (msg == 0)
        {
            return;
        }

        try
        {
            ((NatsSubscription)GCHandle.FromIntPtr(closure).Target!).Deliver(msg);
        }
#pragma warning disable CA1031 // An exception must not escape into native code.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            NativeMethods.MsgDestroy(msg);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnComplete(nint closure)
    {
        try
        {
            GCHandle self = GCHandle.FromIntPtr(closure);
            var subscription = (NatsSubscription)self.Target!;

            // The last callback nats.c makes with this closure.
            self.Free();
            subscription._completion.TrySetResult();
        }
#pragma warning disable CA1031 // An exception must not escape into native code.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
