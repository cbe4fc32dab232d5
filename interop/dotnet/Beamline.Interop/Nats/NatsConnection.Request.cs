using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace Beamline.Interop.Nats;

// Requests share ONE subscription on "_INBOX.<nuid>.*": each request gets the reply subject
// "_INBOX.<nuid>.<token>", and its waiter sits in a dictionary keyed by token. One timer sweeps the
// waiters for timeouts while any is pending (not a timer per request). When nobody subscribes to
// a request's subject, the server answers at once on the reply subject with an empty message whose
// status line is "NATS/1.0 503"; nats.c lifts that into a "Status: 503" header, which
// natsMsg_IsNoResponders checks (the same check natsConnection_RequestMsg makes in nats.c 3.4).
public sealed partial class NatsConnection
{
    private readonly ConcurrentDictionary<long, IInboxWaiter> _pending = new();
    private readonly Lock _inboxGate = new();
    private readonly Lock _sweepGate = new();
    private readonly TimeSpan _sweepInterval;
    private NatsSubscription? _mux;
    private byte[]? _inboxPrefix;
    private long _nextToken;
    private Timer? _sweeper;
    private int _sweeperActive;

    /// <summary>Sends a request and waits for its first reply.</summary>
    /// <param name="subject">The subject to send to.</param>
    /// <param name="data">The payload (copied before this returns).</param>
    /// <param name="headers">Headers to send, or <see langword="null"/>.</param>
    /// <param name="timeout">How long to wait for the reply (<see cref="Timeout.InfiniteTimeSpan"/> for no limit).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The reply.</returns>
    /// <exception cref="NatsNoRespondersException">Nobody subscribes to <paramref name="subject"/> (reported at once by the server).</exception>
    /// <exception cref="NatsTimeoutException">No reply came within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="NatsException">The request could not be sent, or the connection closed.</exception>
    public Task<NatsReply> RequestAsync(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers, TimeSpan timeout,
        CancellationToken cancellationToken = default) =>
        RequestAsync(subject, data, headers, timeout, NatsReplyHeaders.Read, cancellationToken);

    /// <summary>Sends a request and waits for its first reply, copying the reply's headers or not.</summary>
    /// <param name="subject">The subject to send to.</param>
    /// <param name="data">The payload (copied before this returns).</param>
    /// <param name="headers">Headers to send, or <see langword="null"/>.</param>
    /// <param name="timeout">How long to wait for the reply (<see cref="Timeout.InfiniteTimeSpan"/> for no limit).</param>
    /// <param name="replyHeaders">Whether the reply's headers are copied into <see cref="NatsReply.Headers"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The reply.</returns>
    /// <exception cref="NatsNoRespondersException">Nobody subscribes to <paramref name="subject"/> (reported at once by the server).</exception>
    /// <exception cref="NatsTimeoutException">No reply came within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="NatsException">The request could not be sent, or the connection closed.</exception>
    public Task<NatsReply> RequestAsync(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers, TimeSpan timeout,
        NatsReplyHeaders replyHeaders, CancellationToken cancellationToken = default)
    {
        if (replyHeaders is not NatsReplyHeaders.Read and not NatsReplyHeaders.Skip)
        {
            throw new ArgumentOutOfRangeException(nameof(replyHeaders), replyHeaders, "Not a NatsReplyHeaders value.");
        }

        ArgumentException.ThrowIfNullOrEmpty(subject);
        long deadline = ToDeadline(timeout, nameof(timeout));
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<NatsReply>(cancellationToken);
        }

        byte[] prefix = EnsureInbox();
        long token = Interlocked.Increment(ref _nextToken);
        var waiter = new RequestWaiter(this, prefix, token, subject, timeout, deadline, replyHeaders);
        waiter.RegisterCancellation(cancellationToken);
        _pending[token] = waiter;
        EnsureSweeper();

        int status;
        try
        {
            status = SendToInbox(subject, prefix, token, data.Span, headers);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: the handle is gone.
            TryRemovePending(token, waiter);
            throw;
        }

        if (status != 0)
        {
            NatsException error = NatsException.FromStatus(status, $"Could not send a request to '{subject}'");
            if (TryRemovePending(token, waiter))
            {
                waiter.Fail(error);
            }
        }
        else if (cancellationToken.IsCancellationRequested)
        {
            // Cancelled between registration and the waiter being added.
            waiter.Cancel();
        }

        return waiter.Task;
    }

    /// <summary>
    /// Sends a request and streams its replies (e.g. chunks, then a final message) until
    /// <paramref name="isLast"/> says one is the last, all through the shared reply inbox.
    /// </summary>
    /// <param name="subject">The subject to send to.</param>
    /// <param name="data">The payload.</param>
    /// <param name="headers">Headers to send, or <see langword="null"/>.</param>
    /// <param name="isLast">
    /// Whether a reply is the last one (it is yielded too). Runs on the client's delivery thread: keep it
    /// cheap. If it throws, the enumeration ends with that exception.
    /// </param>
    /// <param name="idleTimeout">The most to wait for the first reply and between two replies.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <remarks>The request is sent when the enumeration starts.</remarks>
    /// <exception cref="NatsNoRespondersException">Nobody subscribes to <paramref name="subject"/>.</exception>
    /// <exception cref="NatsTimeoutException">No reply came within <paramref name="idleTimeout"/>.</exception>
    public IAsyncEnumerable<NatsReply> RequestManyAsync(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers,
        Func<NatsReply, bool> isLast, TimeSpan idleTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentNullException.ThrowIfNull(isLast);
        _ = ToDeadline(idleTimeout, nameof(idleTimeout));
        ThrowIfDisposed();
        return RequestManyCore(subject, data, headers, isLast, idleTimeout, cancellationToken);
    }

    private async IAsyncEnumerable<NatsReply> RequestManyCore(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers,
        Func<NatsReply, bool> isLast, TimeSpan idleTimeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[] prefix = EnsureInbox();
        long token = Interlocked.Increment(ref _nextToken);
        var waiter = new StreamWaiter(this, prefix, token, subject, isLast, idleTimeout);
        _pending[token] = waiter;
        try
        {
            EnsureSweeper();
            int status = SendToInbox(subject, prefix, token, data.Span, headers);
            if (status != 0)
            {
                throw NatsException.FromStatus(status, $"Could not send a request to '{subject}'");
            }

            ChannelReader<NatsReply> reader = waiter.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out NatsReply reply))
                {
                    yield return reply;
                }
            }
        }
        finally
        {
            TryRemovePending(token, waiter);
        }
    }

    internal bool TryRemovePending(long token, IInboxWaiter waiter) =>
        _pending.TryRemove(new KeyValuePair<long, IInboxWaiter>(token, waiter));

    /// <summary>A message on the shared inbox: find its waiter by the token at the end of the subject.</summary>
    internal unsafe void OnInboxMessage(nint msg)
    {
        byte[]? prefix = Volatile.Read(ref _inboxPrefix);
        byte* subjectPtr = NativeMethods.MsgGetSubject(msg);
        if (prefix is null || subjectPtr is null)
        {
            return;
        }

        ReadOnlySpan<byte> subject = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(subjectPtr);
        if (!subject.StartsWith(prefix))
        {
            return;
        }

        ReadOnlySpan<byte> tokenText = subject[prefix.Length..];
        if (Utf8Parser.TryParse(tokenText, out long token, out int consumed) && consumed == tokenText.Length
            && _pending.TryGetValue(token, out IInboxWaiter? waiter))
        {
            waiter.OnMessage(msg);
        }

        // Otherwise a late reply to a request that timed out or was cancelled: dropped.
    }

    private byte[] EnsureInbox()
    {
        byte[]? prefix = Volatile.Read(ref _inboxPrefix);
        if (prefix is not null)
        {
            return prefix;
        }

        lock (_inboxGate)
        {
            if (_inboxPrefix is not null)
            {
                return _inboxPrefix;
            }

            ThrowIfDisposed();
            string inbox = CreateInbox();
            var mux = new NatsSubscription(this, inbox + ".*", queueGroup: null, handler: null);
            mux.Start();
            _mux = mux;
            prefix = Encoding.UTF8.GetBytes(inbox + ".");
            Volatile.Write(ref _inboxPrefix, prefix);
            return prefix;
        }
    }

    private static unsafe string CreateInbox()
    {
        byte* inbox = null;
        int status = NativeMethods.InboxCreate(&inbox);
        if (status != 0)
        {
            throw NatsException.FromStatus(status, "Could not create the reply inbox");
        }

        try
        {
            return NatsHeaders.Utf8Z(inbox);
        }
        finally
        {
            NativeMethods.InboxDestroy(inbox);
        }
    }

    /// <summary>Publishes a request whose reply subject is the shared inbox with <paramref name="token"/>.</summary>
    private unsafe int SendToInbox(string subject, byte[] prefix, long token, ReadOnlySpan<byte> data, NatsHeaders? headers)
    {
        // "<prefix><token>\0" on the stack: no string per request.
        Span<byte> reply = stackalloc byte[prefix.Length + 21];
        prefix.CopyTo(reply);
        Utf8Formatter.TryFormat(token, reply[prefix.Length..], out int written);
        reply[prefix.Length + written] = 0;

        fixed (byte* replyPtr = reply)
        fixed (byte* dataPtr = data)
        {
            if (headers is null || headers.Count == 0)
            {
                return NativeMethods.ConnectionPublishRequest(_handle, subject, replyPtr, dataPtr, data.Length);
            }

            nint msg = 0;
            int status = NativeMethods.MsgCreate(&msg, subject, replyPtr, dataPtr, data.Length);
            if (status != 0)
            {
                return status;
            }

            try
            {
                status = headers.CopyTo(msg);
                return status != 0 ? status : NativeMethods.ConnectionPublishMsg(_handle, msg);
            }
            finally
            {
                // natsMsg_Destroy sets no error: the caller still reads the right last error.
                NativeMethods.MsgDestroy(msg);
            }
        }
    }

    private static long ToDeadline(TimeSpan timeout, string paramName)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return long.MaxValue;
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, "The timeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        return Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    }

    private void EnsureSweeper()
    {
        // Pairs with the check in Sweep: either the sweeper sees the new waiter, or we see it stopped.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _sweeperActive) != 0)
        {
            return;
        }

        lock (_sweepGate)
        {
            if (_sweeperActive != 0 || _disposed != 0)
            {
                return;
            }

            _sweeper ??= new Timer(static state => ((NatsConnection)state!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);
            _sweeperActive = 1;
            _sweeper.Change(_sweepInterval, _sweepInterval);
        }
    }

    private void StopSweeper()
    {
        lock (_sweepGate)
        {
            _sweeperActive = 1; // never restarted: the connection is going away
            _sweeper?.Dispose();
            _sweeper = null;
        }
    }

    private void Sweep()
    {
        try
        {
            long now = Stopwatch.GetTimestamp();
            foreach (KeyValuePair<long, IInboxWaiter> pair in _pending)
            {
                if (pair.Value.Deadline <= now && _pending.TryRemove(pair))
                {
                    pair.Value.OnTimeout();
                }
            }

            if (!_pending.IsEmpty)
            {
                return;
            }

            lock (_sweepGate)
            {
                if (_sweeper is null || !_pending.IsEmpty)
                {
                    return;
                }

                Volatile.Write(ref _sweeperActive, 0);
                Interlocked.MemoryBarrier();
                if (_pending.IsEmpty)
                {
                    _sweeper.Change(Timeout.Infinite, Timeout.Infinite);
                }
                else
                {
                    _sweeperActive = 1;
                }
            }
        }
#pragma warning disable CA1031 // A timer callback must not crash the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportCallbackError(ex);
        }
    }

    private void FailPending(Exception error)
    {
        foreach (KeyValuePair<long, IInboxWaiter> pair in _pending)
        {
            if (_pending.TryRemove(pair))
            {
                pair.Value.Fail(error);
            }
        }
    }

    /// <summary>One request waiting on the shared inbox.</summary>
    internal interface IInboxWaiter
    {
        /// <summary>When it times out (a <see cref="Stopwatch"/> timestamp).</summary>
        long Deadline { get; }

        /// <summary>A message for it arrived (on the delivery thread: must not block).</summary>
        void OnMessage(nint msg);

        /// <summary>The sweeper removed it: time is up.</summary>
        void OnTimeout();

        /// <summary>It was removed because the request cannot go on.</summary>
        void Fail(Exception error);
    }

    private sealed class RequestWaiter : TaskCompletionSource<NatsReply>, IInboxWaiter
    {
        private readonly NatsConnection _connection;
        private readonly byte[] _inboxPrefix;
        private readonly long _token;
        private readonly string _subject;
        private readonly TimeSpan _timeout;
        private readonly NatsReplyHeaders _replyHeaders;
        private CancellationTokenRegistration _registration;
        private CancellationToken _cancellationToken;

        public RequestWaiter(NatsConnection connection, byte[] inboxPrefix, long token, string subject, TimeSpan timeout, long deadline,
            NatsReplyHeaders replyHeaders)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _connection = connection;
            _inboxPrefix = inboxPrefix;
            _replyHeaders = replyHeaders;
            _token = token;
            _subject = subject;
            _timeout = timeout;
            Deadline = deadline;
        }

        public long Deadline { get; }

        public void RegisterCancellation(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _cancellationToken = cancellationToken;
                _registration = cancellationToken.UnsafeRegister(static state => ((RequestWaiter)state!).Cancel(), this);
            }
        }

        public void Cancel()
        {
            if (_connection.TryRemovePending(_token, this))
            {
                TrySetCanceled(_cancellationToken);
            }
        }

        public void OnMessage(nint msg)
        {
            if (!_connection.TryRemovePending(_token, this))
            {
                return;
            }

            // Unregister, not Dispose: it never blocks this (delivery) thread.
            _registration.Unregister();
            try
            {
                if (NativeMethods.MsgIsNoResponders(msg))
                {
                    TrySetException(new NatsNoRespondersException($"No responders are subscribed to '{_subject}'."));
                }
                else
                {
                    TrySetResult(NatsReply.FromInboxMessage(msg, _inboxPrefix, _token, _replyHeaders));
                }
            }
#pragma warning disable CA1031 // Whatever failed belongs to this request's caller.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                TrySetException(ex);
            }
        }

        public void OnTimeout()
        {
            _registration.Unregister();
            TrySetException(new NatsTimeoutException(
                $"No reply to the request on '{_subject}' within {_timeout.TotalMilliseconds:0.###} ms."));
        }

        public void Fail(Exception error)
        {
            _registration.Unregister();
            TrySetException(error);
        }
    }

    private sealed class StreamWaiter : IInboxWaiter
    {
        private readonly NatsConnection _connection;
        private readonly byte[] _inboxPrefix;
        private readonly long _token;
        private readonly string _subject;
        private readonly Func<NatsReply, bool> _isLast;
        private readonly TimeSpan _idleTimeout;
        private readonly long _idleTicks;
        private readonly Channel<NatsReply> _channel = Channel.CreateUnbounded<NatsReply>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

        private long _deadline;

        public StreamWaiter(NatsConnection connection, byte[] inboxPrefix, long token, string subject, Func<NatsReply, bool> isLast,
            TimeSpan idleTimeout)
        {
            _connection = connection;
            _inboxPrefix = inboxPrefix;
            _token = token;
            _subject = subject;
            _isLast = isLast;
            _idleTimeout = idleTimeout;
            _idleTicks = idleTimeout == Timeout.InfiniteTimeSpan ? -1 : (long)(idleTimeout.TotalSeconds * Stopwatch.Frequency);
            _deadline = ToDeadline(idleTimeout, nameof(idleTimeout));
        }

        public long Deadline => Volatile.Read(ref _deadline);

        public ChannelReader<NatsReply> Reader => _channel.Reader;

        public void OnMessage(nint msg)
        {
            try
            {
                if (NativeMethods.MsgIsNoResponders(msg))
                {
                    if (_connection.TryRemovePending(_token, this))
                    {
                        _channel.Writer.TryComplete(new NatsNoRespondersException($"No responders are subscribed to '{_subject}'."));
                    }

                    return;
                }

                if (_idleTicks >= 0)
                {
                    Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + _idleTicks);
                }

                NatsReply reply = NatsReply.FromInboxMessage(msg, _inboxPrefix, _token, NatsReplyHeaders.Read);
                bool last = _isLast(reply);
                _channel.Writer.TryWrite(reply);
                if (last && _connection.TryRemovePending(_token, this))
                {
                    _channel.Writer.TryComplete();
                }
            }
#pragma warning disable CA1031 // The predicate's exception (or a copy failure) ends this enumeration, nothing else.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _connection.TryRemovePending(_token, this);
                _channel.Writer.TryComplete(ex);
            }
        }

        public void OnTimeout() => _channel.Writer.TryComplete(new NatsTimeoutException(
            $"No reply to the request on '{_subject}' for {_idleTimeout.TotalMilliseconds:0.###} ms."));

        public void Fail(Exception error) => _channel.Writer.TryComplete(error);
    }
}
