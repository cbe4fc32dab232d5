using System.Threading.Channels;
using Beamline.Cp2;
using Beamline.Pipeline;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using DecideRequest = Beamline.Cp2.DecideRequest;

namespace Beamline.Host.Grpc;

/// <summary>
/// One <c>Router.DecideStream</c> call: reads the caller's requests, decides each (a decide that
/// completes at once is decided on the reading loop; one waiting for an extension completes on its
/// own), and sends every answer back through one writer loop. At most <see cref="Window"/> requests
/// are in progress or waiting to be written: the reader waits for a slot before it reads the next
/// request, and a slot comes back once its answer is written, so a caller that does not read its
/// answers is held back by HTTP/2 flow control instead of filling memory. The writer batches: an
/// answer with more queued behind it is buffered, the last one of a burst flushes them all.
/// </summary>
internal sealed partial class DecideStreamCall : IDisposable
{
    /// <summary>The most requests of one stream in progress or waiting to be written (router.proto states it).</summary>
    public const int Window = 256;

    // Decisions are small: never compressed (as Decide's answers under RouterGrpcService.CompressFromBytes).
    private static readonly WriteOptions Flush = new(WriteFlags.NoCompress);
    private static readonly WriteOptions Buffer = new(WriteFlags.NoCompress | WriteFlags.BufferHint);

    private readonly Cp2Processor _processor;
    private readonly Caller _caller;
    private readonly string _face;
    private readonly ServerCallContext _context;
    private readonly IServerStreamWriter<DecideStreamResponse> _responses;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop;
    private readonly SemaphoreSlim _slots = new(Window, Window);
    private readonly Channel<DecideStreamResponse> _answers = Channel.CreateUnbounded<DecideStreamResponse>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    // The reading loop (1 until the caller closes its side) plus the decides still pending; the
    // answers are complete when it reaches 0.
    private int _open = 1;

    /// <summary>A call of <paramref name="caller"/> (authenticated once, when the call started).</summary>
    public DecideStreamCall(Cp2Processor processor, Caller caller, string face, IServerStreamWriter<DecideStreamResponse> responses,
        ServerCallContext context, ILogger logger)
    {
        _processor = processor;
        _caller = caller;
        _face = face;
        _responses = responses;
        _context = context;
        _logger = logger;
        // The caller's deadline or cancellation ends the call; so does a writer that can no longer send.
        _stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
    }

    /// <summary>Answers every request of <paramref name="requests"/>; returns once the last answer is written.</summary>
    public async Task RunAsync(IAsyncStreamReader<DecideRequest> requests)
    {
        var writing = WriteAllAsync();
        try
        {
            var token = _stop.Token;
            ulong index = 0;
            while (true)
            {
                await _slots.WaitAsync(token).ConfigureAwait(false);
                if (!await requests.MoveNext(token).ConfigureAwait(false))
                {
                    break;
                }
                Decide(requests.Current, index++);
            }
        }
        catch
        {
            // The call ends (deadline, cancellation, a broken connection): stop writing, then let
            // gRPC end the call with the deadline's or cancellation's status.
            await _stop.CancelAsync().ConfigureAwait(false);
            _answers.Writer.TryComplete();
            await Observe(writing).ConfigureAwait(false);
            throw;
        }
        Close();
        await writing.ConfigureAwait(false);
    }

    private void Decide(DecideRequest request, ulong index)
    {
        try
        {
            var pending = _processor.DecideAsync(request, _caller, _face, RouterGrpcService.Timeout(_context), _stop.Token);
            if (pending.IsCompletedSuccessfully)
            {
                _answers.Writer.TryWrite(Answer(request, index, pending.Result));
                return;
            }
            Interlocked.Increment(ref _open);
            _ = CompleteAsync(request, index, pending);
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            Failed(request, index, e);
        }
    }

    private async Task CompleteAsync(DecideRequest request, ulong index, ValueTask<Cp2Outcome<DecideResponse>> pending)
    {
        try
        {
            _answers.Writer.TryWrite(Answer(request, index, await pending.ConfigureAwait(false)));
        }
        catch (Exception e)
        {
            // Once the call is ending nobody is left to answer (the decide was cancelled with it).
            if (!_stop.IsCancellationRequested)
            {
                Failed(request, index, e);
            }
        }
        finally
        {
            Close();
        }
    }

    // Every request gets one answer: a bug becomes that request's `internal` error, not the stream's end.
    private void Failed(DecideRequest request, ulong index, Exception error)
    {
        LogDecideFailed(error);
        var outcome = new Cp2Outcome<DecideResponse>(null, new Cp1.Cp1Error(Cp1.Cp1ErrorCodes.Internal, "internal error"));
        _answers.Writer.TryWrite(Answer(request, index, outcome));
    }

    private static DecideStreamResponse Answer(DecideRequest request, ulong index, in Cp2Outcome<DecideResponse> outcome)
    {
        var answer = new DecideStreamResponse { MessageId = request.Message?.MessageId ?? string.Empty, Index = index };
        if (outcome.Error is { } error)
        {
            answer.Error = Cp2Errors.ToStatus(error);
        }
        else
        {
            answer.Decision = outcome.Answer;
        }
        return answer;
    }

    private void Close()
    {
        if (Interlocked.Decrement(ref _open) == 0)
        {
            _answers.Writer.TryComplete();
        }
    }

    private async Task WriteAllAsync()
    {
        var answers = _answers.Reader;
        try
        {
            while (await answers.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                while (answers.TryRead(out var answer))
                {
                    _context.WriteOptions = answers.TryPeek(out _) ? Buffer : Flush;
                    await _responses.WriteAsync(answer, _stop.Token).ConfigureAwait(false);
                    _slots.Release();
                }
            }
        }
        catch
        {
            // Nothing more can be sent: stop reading too (the reader may be waiting for a slot).
            await _stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The writer's end is the call's: its status says why.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Dispose();
        _slots.Dispose();
    }

    [LoggerMessage(1, LogLevel.Error, "A decide on a CP2 DecideStream failed unexpectedly.")]
    private partial void LogDecideFailed(Exception error);
}
