using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Interop.Nats;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Routing;

// Route, then execute over NATS: the equivalent of POST /v1/execute on ExecuteSubject, in the
// same queue group as decide. The body and the reply are those of the HTTP endpoint (docs/decide.md).
// Executing awaits providers, so the handler copies the request and returns at once: the work
// runs on the thread pool and the reply leaves on the immediate (SendAsap) connection.
internal sealed partial class NatsDecideService
{
    /// <summary>The subject of route-then-execute, request-reply, JSON as <c>POST /v1/execute</c>.</summary>
    public const string ExecuteSubject = "beamline.router.v1.execute";

    private readonly CancellationTokenSource _stopping = new();
    private readonly int _maxExecuteBytes = hostOptions.Value.MaxRequestBytes;
    private readonly int _maxExecutesInFlight = hostOptions.Value.MaxNatsExecutesInFlight;
    private int _executesInFlight;
    private NatsSubscription? _execute;

    private void OnExecute(NatsMsg msg)
    {
        if (msg.ReplyTo is not { } replyTo)
        {
            return; // published, not requested: nobody to answer, and nothing to run for no one
        }
        if (Interlocked.Increment(ref _executesInFlight) > _maxExecutesInFlight)
        {
            Interlocked.Decrement(ref _executesInFlight);
            var (buffer, writer) = ReplyBuffers.Rent();
            DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.QuotaExceeded,
                $"this control plane already runs {_maxExecutesInFlight} executes from NATS (Beamline:Http:MaxNatsExecutesInFlight)"), null, null);
            writer.Flush();
            Reply(msg, buffer.WrittenSpan, _execute);
            return;
        }
        // The native message dies when this returns: the body goes to a pooled copy.
        var body = ArrayPool<byte>.Shared.Rent(Math.Max(1, msg.Data.Length));
        msg.Data.CopyTo(body);
        _ = ExecuteAsync(body, msg.Data.Length, replyTo);
    }

    private async Task ExecuteAsync(byte[] body, int length, string replyTo)
    {
        await Task.Yield(); // off the delivery thread before any work
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
            if (_immediate is { } connection)
            {
                connection.Publish(replyTo, buffer.WrittenSpan);
            }
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException)
        {
            LogExecuteReplyFailed(replyTo, e.Message); // the requester times out; the outcome is in the router's statistics
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
            Interlocked.Decrement(ref _executesInFlight);
        }
    }

    // After the subscriptions drained: executes already taken get DrainTimeout to finish, then
    // are cancelled (and answered).
    private async Task StopExecutesAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + DrainTimeout;
        while (Volatile.Read(ref _executesInFlight) > 0 && DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        while (Volatile.Read(ref _executesInFlight) > 0 && DateTime.UtcNow < deadline + DrainTimeout)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
    }

    [LoggerMessage(10, LogLevel.Error, "A route-then-execute over NATS failed unexpectedly.")]
    private partial void LogExecuteFailed(Exception error);

    [LoggerMessage(11, LogLevel.Warning, "The reply of a route-then-execute over NATS to {ReplyTo} was not sent: {Reason}")]
    private partial void LogExecuteReplyFailed(string replyTo, string reason);
}
