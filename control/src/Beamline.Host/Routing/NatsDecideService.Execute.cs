using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Host.Tracing;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

// Route, then execute over NATS: the equivalent of POST /v1/execute on ExecuteSubject, in the
// same queue group as decide. The body and the reply are those of the HTTP endpoint (docs/decide.md).
// Executing awaits providers, so the handler copies the request and returns at once: the work
// runs on the thread pool and publishes its reply when done.
internal sealed partial class NatsDecideService
{
    /// <summary>The subject of route-then-execute, request-reply, JSON as <c>POST /v1/execute</c>.</summary>
    public const string ExecuteSubject = "beamline.router.v1.execute";

    private readonly CancellationTokenSource _stopping = new();
    private readonly int _maxExecuteBytes = hostOptions.Value.MaxRequestBytes;
    private readonly int _maxExecutesInFlight = hostOptions.Value.MaxNatsExecutesInFlight;
    private int _executesInFlight;

    private Task SubscribeExecuteAsync(INatsConnection connection) => SubscribeAsync(connection, ExecuteSubject, QueueGroup, OnExecute);

    private bool OnExecute(ReadOnlySpan<byte> body, NatsRequest request, ReplyWriter reply)
    {
        if (Interlocked.Increment(ref _executesInFlight) > _maxExecutesInFlight)
        {
            Interlocked.Decrement(ref _executesInFlight);
            DecideCodec.WriteError(reply.Writer, new Cp1Error(Cp1ErrorCodes.QuotaExceeded,
                $"this control plane already runs {_maxExecutesInFlight} executes from NATS (Beamline:Http:MaxNatsExecutesInFlight)"), null, null);
            return true;
        }
        if (_stopping.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _executesInFlight);
            DecideCodec.WriteError(reply.Writer, new Cp1Error(Cp1ErrorCodes.Internal, "the control plane is stopping"), null, null);
            return true;
        }
        // The received buffer goes back to the pool when this returns: the work gets its own copy.
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, body.Length));
        body.CopyTo(copy);
        _ = ExecuteAsync(copy, body.Length, request.ReplyTo, request.Headers);
        return false;
    }

    private async Task ExecuteAsync(byte[] body, int length, string replyTo, NatsHeaders? headers)
    {
        using var face = NatsTraceContext.StartFace(ExecuteSubject, headers);
        await Task.Yield(); // off the subscription's loop before any work
        var buffer = new ArrayBufferWriter<byte>(1024);
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                try
                {
                    await executor.ProcessAsync(body.AsMemory(0, length), principal: null, writer, _maxExecuteBytes, _stopping.Token)
                        .ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // Every request gets one answer: a bug here becomes a CP1 `internal` error.
                    var stopped = e is OperationCanceledException && _stopping.IsCancellationRequested;
                    if (!stopped)
                    {
                        LogExecuteFailed(e);
                    }
                    writer.Reset();
                    buffer.ResetWrittenCount();
                    DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Internal,
                        stopped ? "the control plane stopped before the execute finished" : "internal error"), null, null);
                }
            }
            if (_connection is { } connection)
            {
                await connection.PublishAsync(replyTo, buffer.WrittenMemory).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
        {
            LogExecuteReplyFailed(replyTo, e.Message); // the requester times out; the outcome is in the router's statistics
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
            Interlocked.Decrement(ref _executesInFlight);
        }
    }

    // A decide whose policy runs pre or validator extensions: awaited off the subscription's loop,
    // answered on its own buffer, and waited for at shutdown like an execute.
    private async Task CompleteDecideAsync(DecideStart start, string replyTo, System.Diagnostics.Activity? face)
    {
        using var span = face;
        Interlocked.Increment(ref _executesInFlight);
        var buffer = new ArrayBufferWriter<byte>(512);
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                try
                {
                    await processor.CompleteAsync(start, writer).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // Every request gets one answer: a bug here becomes a CP1 `internal` error.
                    var stopped = e is OperationCanceledException && _stopping.IsCancellationRequested;
                    if (!stopped)
                    {
                        LogDecideFailed(e);
                    }
                    writer.Reset();
                    buffer.ResetWrittenCount();
                    DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Internal,
                        stopped ? "the control plane stopped before the decide finished" : "internal error"), start.Request?.RequestId, start.Request?.TraceId);
                }
            }
            if (_connection is { } connection)
            {
                await connection.PublishAsync(replyTo, buffer.WrittenMemory).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
        {
            LogExecuteReplyFailed(replyTo, e.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _executesInFlight);
        }
    }

    // After the subscriptions stopped: executes already taken run until shortly before the
    // shutdown deadline, then are cancelled (and answered `internal`).
    private Task StopExecutesAsync(DateTime deadline)
        => NatsFaceSubscriptions.StopInFlightAsync(() => Volatile.Read(ref _executesInFlight), _stopping, deadline, shutdownOptions.Value.Timeout);

    [LoggerMessage(10, LogLevel.Error, "A route-then-execute over NATS failed unexpectedly.")]
    private partial void LogExecuteFailed(Exception error);

    [LoggerMessage(11, LogLevel.Warning, "The reply of a route-then-execute over NATS to {ReplyTo} was not sent: {Reason}")]
    private partial void LogExecuteReplyFailed(string replyTo, string reason);
}
