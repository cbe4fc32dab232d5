using System.Diagnostics;
using Beamline.Pipeline.Providers;
using DiagnosticActivity = System.Diagnostics.Activity;

namespace Beamline.Pipeline.Telemetry;

/// <summary>
/// The control plane's spans, on the BCL <see cref="ActivitySource"/> <c>Beamline</c> (whoever
/// listens exports them: the host registers OpenTelemetry when an exporter is configured). Every
/// <c>Start*</c> returns null when nobody listens or the sampler drops the span, and sets its tags
/// only on a span that is recorded, so that tracing switched off costs a branch and no allocation.
/// </summary>
/// <remarks>
/// Spans: a face (the HTTP server span of ASP.NET Core's instrumentation, or <see cref="StartFace"/>
/// for a NATS request) → <c>beamline.execute</c> / <c>beamline.decide</c> → the stages
/// <c>beamline.admit</c>, <c>beamline.pre</c>, <c>beamline.validators</c>, <c>beamline.route</c>,
/// <c>beamline.provider</c> (one per attempt), <c>beamline.post</c>; <c>beamline.extension</c> per
/// extension call; <c>beamline.block</c> per dispatched block, with <c>beamline.worker</c> as its
/// child when the worker reported its queue and execution times.
/// </remarks>
public static class PipelineTracing
{
    /// <summary>The activity source's name (<c>AddSource</c> it to record the spans).</summary>
    public const string SourceName = "Beamline";

    /// <summary>The W3C trace context header, as HTTP and NATS carry it.</summary>
    public const string TraceparentHeader = "traceparent";

    /// <summary>The W3C trace state header that may travel with <see cref="TraceparentHeader"/>.</summary>
    public const string TracestateHeader = "tracestate";

    /// <summary>The source every span here starts on.</summary>
    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>
    /// The span of a request that came in over NATS (HTTP has ASP.NET Core's): a server span whose
    /// parent is the message's <c>traceparent</c>, or a new trace when it carries none.
    /// </summary>
    public static DiagnosticActivity? StartFace(string name, string? traceparent, string? tracestate)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        ActivityContext.TryParse(traceparent, tracestate, isRemote: true, out var parent);
        return Source.StartActivity(name, ActivityKind.Server, parent);
    }

    /// <summary>The span of one whole request through the pipeline (<c>beamline.execute</c> or <c>beamline.decide</c>).</summary>
    public static DiagnosticActivity? StartRequest(string name, PipelineRequest request)
    {
        var span = StartChild(name, ActivityKind.Internal);
        if (span is not null)
        {
            TagRequest(span, request);
            span.SetTag("face", request.Face);
        }
        return span;
    }

    /// <summary>The span of one stage of a request (<c>beamline.admit</c>, <c>beamline.pre</c>, …).</summary>
    public static DiagnosticActivity? StartStage(string name, PipelineRequest request)
    {
        var span = StartChild(name, ActivityKind.Internal);
        if (span is not null)
        {
            TagRequest(span, request);
        }
        return span;
    }

    /// <summary>The span of one provider attempt; <see cref="SetOutcome(DiagnosticActivity?, in ProviderAnswer)"/> says how it ended.</summary>
    public static DiagnosticActivity? StartProviderAttempt(PipelineRequest request, string? policyId, string providerId, string reason)
    {
        var span = StartChild("beamline.provider", ActivityKind.Internal);
        if (span is not null)
        {
            TagRequest(span, request);
            span.SetTag("policy_id", policyId);
            span.SetTag("provider_id", providerId);
            span.SetTag("reason", reason);
        }
        return span;
    }

    /// <summary>Records on an attempt's span how it ended (status, and the error when it failed).</summary>
    public static void SetOutcome(DiagnosticActivity? span, in ProviderAnswer answer)
    {
        if (span is null)
        {
            return;
        }
        var status = answer.Succeeded ? "ok" : answer.ErrorCode ?? answer.Status;
        span.SetTag("status", status);
        if (answer.HttpStatus > 0)
        {
            span.SetTag("http.response.status_code", answer.HttpStatus);
        }
        if (!answer.Succeeded)
        {
            span.SetStatus(ActivityStatusCode.Error, answer.Message ?? status);
        }
    }

    /// <summary>The span of one extension call (a NATS request or a built-in).</summary>
    public static DiagnosticActivity? StartExtensionCall(string extensionId, string stage, string tenantId, string requestId)
    {
        var span = StartChild("beamline.extension", ActivityKind.Client);
        if (span is not null)
        {
            span.SetTag("tenant_id", tenantId);
            span.SetTag("request_id", requestId);
            span.SetTag("extension_id", extensionId);
            span.SetTag("stage", stage);
        }
        return span;
    }

    /// <summary>Records on an extension call's span how it ended; <paramref name="failure"/> null is a success.</summary>
    public static void SetOutcome(DiagnosticActivity? span, string status, string? failure)
    {
        if (span is null)
        {
            return;
        }
        span.SetTag("status", status);
        if (failure is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, failure);
        }
    }

    /// <summary>The span of one dispatched block (a client span: the block runs elsewhere, or on a pool thread).</summary>
    public static DiagnosticActivity? StartBlock(string blockId, string type, string pool, string tenantId, string dispatchMode)
    {
        var span = StartChild("beamline.block", ActivityKind.Client);
        if (span is not null)
        {
            span.SetTag("tenant_id", tenantId);
            span.SetTag("block_id", blockId);
            span.SetTag("block_type", type);
            span.SetTag("pool", pool);
            span.SetTag("dispatch", dispatchMode);
        }
        return span;
    }

    /// <summary>
    /// The traceparent of <paramref name="span"/> (else of the current activity: an unsampled trace's
    /// parent), to hand to whoever continues the trace (a worker, an extension), or null without one.
    /// </summary>
    public static string? Traceparent(DiagnosticActivity? span)
        => (span ?? DiagnosticActivity.Current) is { IdFormat: ActivityIdFormat.W3C } carrier ? carrier.Id : null;

    // Inside a trace the sampler dropped, a span would be created for propagation alone (OpenTelemetry
    // turns a drop into PropagationData): nothing of it is recorded, and its unrecorded parent carries
    // the trace context on just as well (Traceparent falls back to it). Skipping it is most of what
    // tracing costs an unsampled request: one Activity per stage, and its async-local switches.
    private static DiagnosticActivity? StartChild(string name, ActivityKind kind)
        => DiagnosticActivity.Current is { Recorded: false } ? null : Source.StartActivity(name, kind);

    /// <summary>
    /// Records the worker's part of <paramref name="block"/> as its child span
    /// <c>beamline.worker</c>, from the times the worker reported (its clock is not ours: the span
    /// ends when the result arrived and lasts <paramref name="queueMicros"/> + <paramref name="execMicros"/>).
    /// </summary>
    public static void RecordWorker(DiagnosticActivity? block, string workerId, string pool, ulong queueMicros, ulong execMicros)
    {
        if (block is null || (queueMicros == 0 && execMicros == 0))
        {
            return;
        }
        var end = DateTime.UtcNow;
        var elapsed = end - block.StartTimeUtc;
        var reported = TimeSpan.FromTicks((long)Math.Min((queueMicros + execMicros) * TimeSpan.TicksPerMicrosecond, (ulong)long.MaxValue));
        // The worker's part lies inside the block's span: a worker whose figures say otherwise is trimmed.
        var total = reported < elapsed ? reported : elapsed;
        var current = DiagnosticActivity.Current;
        var worker = Source.StartActivity("beamline.worker", ActivityKind.Server, block.Context, startTime: new DateTimeOffset(end - total, TimeSpan.Zero));
        if (worker is not null)
        {
            worker.SetTag("worker_id", workerId);
            worker.SetTag("pool", pool);
            worker.SetTag("queue_us", (long)queueMicros);
            worker.SetTag("exec_us", (long)execMicros);
            worker.SetEndTime(end);
            worker.Stop();
        }
        DiagnosticActivity.Current = current;
    }

    private static void TagRequest(DiagnosticActivity span, PipelineRequest request)
    {
        span.SetTag("tenant_id", request.TenantId);
        span.SetTag("request_id", request.RequestId);
        if (request.PolicyId is { } policy)
        {
            span.SetTag("policy_id", policy);
        }
    }
}
