using System.Diagnostics;
using Beamline.Experiments.Bandits;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;

namespace Beamline.Experiments.Routing;

/// <summary>
/// Feeds experiments and bandits from the pipeline's accounting of every finished request (off the
/// request path: it only updates counters under short locks): an execute of an experiment arm adds
/// its latency, cost and success to the arm; every finished request is remembered for feedback; the
/// bandit learns its reward. A decide (no provider call) counts as a request of its arm only.
/// </summary>
public sealed class ExperimentAccounting(ExperimentRegistry registry, ExperimentTracker tracker, BanditSelector? bandits = null) : IRequestAccounting
{
    /// <inheritdoc />
    public void Decided(PipelineRequest request, DecideResult result)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(result);
        var assignment = tracker.Finish(request.RequestId, request.TenantId);
        if (assignment is not null)
        {
            registry.RecordRequest(assignment.Experiment, assignment.Arm);
        }
        tracker.Remember(request.RequestId, new FinishedRequest(request.TenantId, result.Decision.ProviderId, assignment, !result.IsSuccess));
    }

    /// <inheritdoc />
    public void Executed(PipelineRequest request, ExecuteResult result)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(result);
        var assignment = tracker.Finish(request.RequestId, request.TenantId);
        var providerId = result.ProviderId ?? (result.Attempts.Count > 0 ? result.Attempts[^1].ProviderId : null);
        var latencyMs = Stopwatch.GetElapsedTime(request.StartedAt).TotalMilliseconds;
        var reachedProvider = result.Attempts.Count > 0 || result.ProviderId is not null;
        if (assignment is not null)
        {
            registry.RecordRequest(assignment.Experiment, assignment.Arm);
            if (reachedProvider)
            {
                registry.RecordExecution(assignment.Experiment, assignment.Arm, !result.IsSuccess, latencyMs, result.CostNanos);
            }
        }
        bandits?.RecordOutcome(request.TenantId, request.RequestId, providerId, result.IsSuccess, latencyMs, result.CostNanos);
        tracker.Remember(request.RequestId, new FinishedRequest(request.TenantId, providerId, assignment, !result.IsSuccess));
    }

    /// <summary>
    /// A tenant's feedback on one of its requests: the score (0..1) becomes a quality observation of
    /// the request's experiment arm (the first score per request only) and the reward of a bandit pick
    /// awaiting it. False when the tenant has no such request (unknown, forgotten, or another tenant's).
    /// </summary>
    public bool Feedback(string tenantId, string requestId, double score)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(requestId);
        if (!tracker.TryGetFinished(tenantId, requestId, out var finished))
        {
            return false;
        }
        bool first;
        lock (finished)
        {
            first = finished.FeedbackCount++ == 0;
        }
        if (first && finished.Assignment is { } assignment)
        {
            registry.RecordQuality(assignment.Experiment, assignment.Arm, score);
        }
        if (first)
        {
            bandits?.RecordQuality(tenantId, requestId, score);
        }
        return true;
    }
}
