using Beamline.Pipeline.Telemetry;
using NATS.Client.Core;

namespace Beamline.Host.Tracing;

/// <summary>W3C trace context in NATS headers, for the NATS faces.</summary>
internal static class NatsTraceContext
{
    /// <summary>
    /// The span of a request that came over NATS, a child of its <c>traceparent</c> header (a new
    /// trace without one); null when nobody listens, before the headers are even looked at.
    /// </summary>
    public static System.Diagnostics.Activity? StartFace(string name, NatsHeaders? headers)
    {
        if (!PipelineTracing.Source.HasListeners())
        {
            return null;
        }
        string? traceparent = null;
        string? tracestate = null;
        if (headers is not null)
        {
            if (headers.TryGetValue(PipelineTracing.TraceparentHeader, out var parent))
            {
                traceparent = parent.ToString();
            }
            if (headers.TryGetValue(PipelineTracing.TracestateHeader, out var state))
            {
                tracestate = state.ToString();
            }
        }
        return PipelineTracing.StartFace(name, traceparent, tracestate);
    }
}
