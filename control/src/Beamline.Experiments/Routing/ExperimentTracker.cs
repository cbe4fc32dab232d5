using System.Collections.Concurrent;

namespace Beamline.Experiments.Routing;

/// <summary>
/// What became of recent requests, for experiments and feedback: the arm a request was routed to
/// (from the decision until its accounting), then, once finished, its tenant, arm and provider for
/// <c>POST /v1/feedback</c>. Both tables are bounded: past <see cref="Capacity"/> finished requests
/// the oldest are forgotten (feedback on them is answered as for an unknown request), and past
/// <see cref="Capacity"/> requests in flight new assignments are not tracked (not counted).
/// </summary>
public sealed class ExperimentTracker(int capacity = 100_000)
{
    // Keyed by tenant and request id: request ids are the clients' own, and one tenant's must never
    // overwrite or answer for another's.
    private readonly ConcurrentDictionary<(string Tenant, string RequestId), Assignment> _inFlight = new();
    private readonly ConcurrentDictionary<(string Tenant, string RequestId), FinishedRequest> _finished = new();
    private readonly ConcurrentQueue<(string Tenant, string RequestId)> _finishedOrder = new();

    /// <summary>How many requests each table holds at most.</summary>
    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Notes that <paramref name="requestId"/> was routed to arm <paramref name="arm"/> of <paramref name="experiment"/>.</summary>
    public void Assigned(string requestId, string tenantId, Experiment experiment, int arm)
    {
        if (_inFlight.Count < Capacity)
        {
            _inFlight[(tenantId, requestId)] = new Assignment(tenantId, experiment, arm);
        }
    }

    /// <summary>Whether the tenant's request is in flight with an experiment arm.</summary>
    public bool IsAssigned(string? tenantId, string? requestId) => tenantId is not null && requestId is not null && _inFlight.ContainsKey((tenantId, requestId));

    /// <summary>Takes the request's assignment at its end (null when it had none).</summary>
    public Assignment? Finish(string requestId, string tenantId)
        => _inFlight.TryRemove((tenantId, requestId), out var assignment) ? assignment : null;

    /// <summary>Remembers a finished request for feedback.</summary>
    public void Remember(string requestId, FinishedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var key = (request.TenantId, requestId);
        if (_finished.TryAdd(key, request))
        {
            _finishedOrder.Enqueue(key);
            while (_finished.Count > Capacity && _finishedOrder.TryDequeue(out var oldest))
            {
                _finished.TryRemove(oldest, out _);
            }
        }
        else
        {
            _finished[key] = request; // a request id used again by the tenant: the latest request counts
        }
    }

    /// <summary>The finished request <paramref name="requestId"/> of <paramref name="tenantId"/> (another tenant's is not found).</summary>
    public bool TryGetFinished(string tenantId, string requestId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FinishedRequest? request)
    {
        return _finished.TryGetValue((tenantId, requestId), out request);
    }
}

/// <summary>A request routed by an experiment.</summary>
/// <param name="TenantId">Its tenant.</param>
/// <param name="Experiment">The experiment.</param>
/// <param name="Arm">The arm's index.</param>
public sealed record Assignment(string TenantId, Experiment Experiment, int Arm);

/// <summary>A finished request, as feedback needs it.</summary>
/// <param name="TenantId">Its tenant.</param>
/// <param name="ProviderId">The provider that answered or was chosen, or null.</param>
/// <param name="Assignment">Its experiment arm, or null.</param>
/// <param name="Failed">Whether it ended in an error.</param>
public sealed record FinishedRequest(string TenantId, string? ProviderId, Assignment? Assignment, bool Failed)
{
    /// <summary>Feedback scores received for it (one per request is counted).</summary>
    public int FeedbackCount { get; set; }
}
