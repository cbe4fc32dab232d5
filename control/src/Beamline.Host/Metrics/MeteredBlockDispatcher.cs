using System.Diagnostics;
using System.Runtime.CompilerServices;
using Beamline.Dispatch;
using Beamline.Pipeline.Telemetry;
using Beamline.Worker.V2;

namespace Beamline.Host.Metrics;

/// <summary>Counts and times every block the control plane dispatches, whatever the dispatch path.</summary>
internal sealed class MeteredBlockDispatcher(IBlockDispatcher inner, PipelineMetrics metrics) : IBlockDispatcher
{
    public string Mode => inner.Mode;

    public async ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await inner.DispatchAsync(request, cancellationToken).ConfigureAwait(false);
        metrics.BlockDispatched(request.Pool, StatusOf(result.Status), Stopwatch.GetElapsedTime(started));
        return result;
    }

    public async IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await foreach (var item in inner.DispatchStreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (item.Result is { } result)
            {
                metrics.BlockDispatched(request.Pool, StatusOf(result.Status), Stopwatch.GetElapsedTime(started));
            }
            yield return item;
        }
    }

    private static string StatusOf(ExecStatus status) => status switch
    {
        ExecStatus.Ok => "ok",
        ExecStatus.Timeout => "timeout",
        ExecStatus.Cancelled => "cancelled",
        _ => "error",
    };
}
