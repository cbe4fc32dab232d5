using System.Runtime.CompilerServices;
using Beamline.Dispatch;
using Beamline.Pipeline.Telemetry;
using Beamline.Worker.V2;

namespace Beamline.Host.Tracing;

/// <summary>
/// A span per dispatched block (<c>beamline.block</c>), whatever the dispatch path. Its
/// traceparent goes into <see cref="ExecRequest.Traceparent"/>, which the NATS dispatcher also sends
/// as the <c>traceparent</c> header, so that the worker's span for the block is its child; the
/// worker's reported queue and execution times become the child span <c>beamline.worker</c>.
/// </summary>
internal sealed class TracedBlockDispatcher(IBlockDispatcher inner) : IBlockDispatcher
{
    public string Mode => inner.Mode;

    public async ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        using var span = Start(request);
        var result = await inner.DispatchAsync(request, cancellationToken).ConfigureAwait(false);
        End(span, request, result);
        return result;
    }

    public async IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var span = Start(request);
        await foreach (var item in inner.DispatchStreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (item.Result is { } result)
            {
                End(span, request, result);
            }
            yield return item;
        }
    }

    private System.Diagnostics.Activity? Start(ExecRequest request)
    {
        var span = PipelineTracing.StartBlock(request.BlockId, request.Type, request.Pool, request.TenantId, inner.Mode);
        // A span that is not recorded still carries the trace (and its "not sampled" flag) on.
        if ((span ?? System.Diagnostics.Activity.Current) is { IdFormat: System.Diagnostics.ActivityIdFormat.W3C } current)
        {
            request.Traceparent = current.Id;
        }
        return span;
    }

    private static void End(System.Diagnostics.Activity? span, ExecRequest request, ExecResult result)
    {
        if (span is null)
        {
            return;
        }
        span.SetTag("status", result.Status switch
        {
            ExecStatus.Ok => "ok",
            ExecStatus.Timeout => "timeout",
            ExecStatus.Cancelled => "cancelled",
            _ => "error",
        });
        if (result.Status != ExecStatus.Ok)
        {
            span.SetTag("error_code", result.ErrorCode);
            span.SetStatus(System.Diagnostics.ActivityStatusCode.Error, result.ErrorMessage);
        }
        span.SetTag("worker_id", result.WorkerId);
        PipelineTracing.RecordWorker(span, result.WorkerId, request.Pool, result.QueueUs, result.ExecUs);
    }
}
