using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Telemetry;
using Beamline.Routing;

namespace Beamline.Pipeline;

/// <summary>
/// The stages that are one synchronous call each, with their spans (<see cref="PipelineTracing"/>):
/// kept here so that the request paths read as before. Pre, validators and post have theirs in the
/// extension runner; provider attempts where they are called.
/// </summary>
public sealed partial class RequestPipeline
{
    /// <summary>Admission (quotas), as the span <c>beamline.admit</c>.</summary>
    private AdmissionLease Admit(PipelineRequest request)
    {
        using var span = PipelineTracing.StartStage("beamline.admit", request);
        var lease = _admission.Enter(request.Caller);
        if (span is not null && !lease.IsAdmitted)
        {
            span.SetTag("status", Cp1.Cp1ErrorCodes.QuotaExceeded);
            span.SetStatus(System.Diagnostics.ActivityStatusCode.Error, lease.Refusal);
        }
        return lease;
    }

    /// <summary>The router's decision, as the span <c>beamline.route</c> (with the provider it chose).</summary>
    private RouteDecision Decide(PipelineRequest request, RouteRequest route)
    {
        using var span = PipelineTracing.StartStage("beamline.route", request);
        var decision = _routing.Decide(route);
        if (span is not null)
        {
            span.SetTag("policy_id", decision.PolicyId);
            span.SetTag("provider_id", decision.ProviderId);
            span.SetTag("reason", decision.IsSuccess ? decision.Reason : decision.ErrorCode);
        }
        return decision;
    }
}
