using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Beamline.Interop.Exec;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Dispatch.InProcess;

// Blocks of an asynchronous type (http.request) run through execute_async: the runtime drives
// their transfers on its one event thread and completes them through a callback, so none holds a
// pool thread — or any thread — while its upstream is slow.
public sealed partial class InProcessBlockDispatcher
{
    /// <summary>Block types that answered "not async": they go straight to the pools from then on.</summary>
    private readonly ConcurrentDictionary<string, bool> _syncOnlyTypes = new(StringComparer.Ordinal);
    private int _asyncInFlight;

    private enum AsyncStart
    {
        /// <summary>The runtime took the block: its receiver gets the result.</summary>
        Taken,

        /// <summary>Its type has no asynchronous path: run it on its pool.</summary>
        NotAsync,

        /// <summary>Not started: the block's result is the refusal given.</summary>
        Refused,
    }

    /// <summary>The blocks running on the runtime's event thread now.</summary>
    internal int AsyncInFlight => Volatile.Read(ref _asyncInFlight);

    private bool MayRunAsync(ExecRequest request) =>
        _options.InProcess.AsyncLimit > 0 && _pools.Offers(request.Pool) && !_syncOnlyTypes.ContainsKey(request.Type);

    private AsyncStart TryStartAsync(ExecRequest request, AsyncBlock block, CancellationToken cancellationToken, out ExecResult? refused)
    {
        refused = null;
        if (Interlocked.Increment(ref _asyncInFlight) > _options.InProcess.AsyncLimit)
        {
            Interlocked.Decrement(ref _asyncInFlight);
            refused = ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.ResourceUnavailable,
                $"{_options.InProcess.AsyncLimit} asynchronous blocks are running (Beamline:InProcess:AsyncLimit)");
            return AsyncStart.Refused;
        }
        var size = request.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            request.WriteTo(buffer.AsSpan(0, size));
            if (_runtime.TryStartAsync(buffer.AsSpan(0, size), block, cancellationToken))
            {
                return AsyncStart.Taken; // the block's OnResult gives the slot back
            }
            Interlocked.Decrement(ref _asyncInFlight);
            _syncOnlyTypes.TryAdd(request.Type, true);
            return AsyncStart.NotAsync;
        }
        catch (BeamlineNativeException e)
        {
            Interlocked.Decrement(ref _asyncInFlight);
            LogNativeFailure(request.BlockId, e.Code, e.Message);
            refused = ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.FromNative(e.Code), e.Message);
            return AsyncStart.Refused;
        }
#pragma warning disable CA1031 // A bug in the runtime must still answer the block.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Decrement(ref _asyncInFlight);
            LogRunFailed(request.BlockId, e);
            refused = ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError, "internal error");
            return AsyncStart.Refused;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A block on the event thread. Its callbacks run there (or, for a block that ends before any I/O, on the
    /// starting thread): they decode and hand on, never block.
    /// </summary>
    private abstract class AsyncBlock(InProcessBlockDispatcher owner, ExecRequest request) : ExecAsyncReceiver
    {
        public sealed override void OnResult(ReadOnlySpan<byte> encodedResult)
        {
            Interlocked.Decrement(ref owner._asyncInFlight);
            ExecResult result;
            try
            {
                result = encodedResult.IsEmpty
                    ? ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError, "the runtime could not encode the result")
                    : ExecResult.Parser.ParseFrom(encodedResult);
            }
            catch (InvalidProtocolBufferException)
            {
                result = ExecErrorCodes.Failure(request, ExecStatus.Error, ExecErrorCodes.InternalError, "the runtime's result did not decode");
            }
            Complete(result);
        }

        protected abstract void Complete(ExecResult result);
    }

    /// <summary>A block answered whole; the continuation of its awaiter never runs on the event thread.</summary>
    private sealed class AsyncWholeBlock(InProcessBlockDispatcher owner, ExecRequest request) : AsyncBlock(owner, request)
    {
        public TaskCompletionSource<ExecResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void Complete(ExecResult result) => Result.TrySetResult(result);
    }

    /// <summary>
    /// A streamed block: chunks go into an unbounded channel, since the event thread may not wait for a slow reader
    /// (what it holds is bounded by the block's <c>max_response_bytes</c>). A reader that went away cancels it.
    /// </summary>
    private sealed class AsyncStreamedBlock(InProcessBlockDispatcher owner, ExecRequest request, CancellationToken readerGone)
        : AsyncBlock(owner, request)
    {
        public Channel<ExecStreamItem> Items { get; } = Channel.CreateUnbounded<ExecStreamItem>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = true,
        });

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool OnChunk(ReadOnlySpan<byte> encodedChunk)
        {
            if (readerGone.IsCancellationRequested)
            {
                return false;
            }
            return Items.Writer.TryWrite(new ExecStreamItem(ExecChunk.Parser.ParseFrom(encodedChunk), null));
        }

        protected override void Complete(ExecResult result)
        {
            Items.Writer.TryWrite(new ExecStreamItem(null, result)); // the reader is either reading or gone
            Items.Writer.TryComplete();
            Done.TrySetResult();
        }
    }
}
