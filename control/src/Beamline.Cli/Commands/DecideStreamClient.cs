using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Beamline.Cp2;
using Grpc.Core;

namespace Beamline.Cli.Commands;

/// <summary>
/// The bench's caller of <c>Router.DecideStream</c>: every loop's decides go over one
/// bidirectional call. Loop <c>i</c> sends its own request (message id <c>bench-{i}</c>) and waits
/// for the answer with that id; one writer loop sends the queued requests (buffered while more
/// are queued), one reader loop hands each answer to its waiting loop. Nothing is allocated per
/// decide but the messages themselves; a loop's next request is queued from the reader's thread.
/// </summary>
internal sealed class DecideStreamClient : IAsyncDisposable
{
    private static readonly WriteOptions Flush = new();
    private static readonly WriteOptions Buffer = new(WriteFlags.BufferHint);

    private readonly AsyncDuplexStreamingCall<DecideRequest, DecideStreamResponse> _call;
    private readonly Channel<DecideRequest> _outgoing = Channel.CreateUnbounded<DecideRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly Task _writing;
    private readonly Task _reading;

    /// <summary>Opens the call; <paramref name="loops"/> loops may then decide at once.</summary>
    public DecideStreamClient(Router.RouterClient client, Metadata headers, DecideRequest template, int loops)
    {
        for (var i = 0; i < loops; i++)
        {
            var request = template.Clone();
            request.Message.MessageId = "bench-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _slots.Add(request.Message.MessageId, new Slot(request));
        }
        _call = client.DecideStream(headers);
        _writing = WriteAllAsync();
        _reading = ReadAllAsync();
    }

    /// <summary>The slot of loop <paramref name="loop"/>, looked up once by the loop.</summary>
    public Func<CancellationToken, ValueTask<bool>> Loop(int loop)
    {
        var slot = _slots["bench-" + loop.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        return _ =>
        {
            var answer = slot.Start();
            _outgoing.Writer.TryWrite(slot.Request);
            return answer;
        };
    }

    private async Task WriteAllAsync()
    {
        var outgoing = _outgoing.Reader;
        while (await outgoing.WaitToReadAsync().ConfigureAwait(false))
        {
            while (outgoing.TryRead(out var request))
            {
                _call.RequestStream.WriteOptions = outgoing.TryPeek(out _) ? Buffer : Flush;
                await _call.RequestStream.WriteAsync(request).ConfigureAwait(false);
            }
        }
        await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
    }

    private async Task ReadAllAsync()
    {
        try
        {
            await foreach (var answer in _call.ResponseStream.ReadAllAsync().ConfigureAwait(false))
            {
                if (_slots.TryGetValue(answer.MessageId, out var slot))
                {
                    slot.Complete(answer.OutcomeCase == DecideStreamResponse.OutcomeOneofCase.Decision && answer.Decision.ProviderId.Length > 0);
                }
            }
        }
        finally
        {
            // The call ended: no loop waits forever.
            foreach (var slot in _slots.Values)
            {
                slot.Abandon();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _outgoing.Writer.TryComplete();
        try
        {
            await _writing.ConfigureAwait(false);
            await _reading.ConfigureAwait(false);
        }
        finally
        {
            _call.Dispose();
        }
    }

    /// <summary>One loop's request and the answer it waits for (one at a time).</summary>
    private sealed class Slot(DecideRequest request) : IValueTaskSource<bool>
    {
        // The waiting loop goes on inline on the reader (records the latency, queues its next request, awaits again):
        // no thread-pool hop per answer.
        private ManualResetValueTaskSourceCore<bool> _core;
        private int _waiting;

        public DecideRequest Request { get; } = request;

        public ValueTask<bool> Start()
        {
            Volatile.Write(ref _waiting, 1);
            return new ValueTask<bool>(this, _core.Version);
        }

        public void Complete(bool ok)
        {
            if (Interlocked.Exchange(ref _waiting, 0) == 1)
            {
                _core.SetResult(ok);
            }
        }

        public void Abandon() => Complete(false);

        public bool GetResult(short token)
        {
            var ok = _core.GetResult(token);
            _core.Reset();
            return ok;
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}
