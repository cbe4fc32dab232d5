using Beamline.Routing.Fallbacks;

namespace Beamline.Routing;

/// <summary>Why a provider was chosen: the CP1 <c>reason</c> values.</summary>
public static class RouteReasons
{
    /// <summary>A weighted random pick.</summary>
    public const string Weighted = "weighted";

    /// <summary>The client named the provider (a gateway <c>model</c>).</summary>
    public const string Pinned = "pinned";

    /// <summary>The session's earlier provider.</summary>
    public const string Sticky = "sticky";

    /// <summary>A fallback rule's target.</summary>
    public const string Fallback = "fallback";

    /// <summary>The same provider again, under a fallback rule's retry count.</summary>
    public const string Retry = "retry";

    /// <summary>The cheapest provider within the constraints.</summary>
    public const string Cheapest = "cheapest";

    /// <summary>The fastest provider within the constraints.</summary>
    public const string Fastest = "fastest";

    /// <summary>The best-quality provider within the constraints.</summary>
    public const string BestQuality = "best_quality";

    /// <summary>A language policy's <c>bandit(...)</c> pick (the bandit selector chose).</summary>
    public const string Bandit = "bandit";
}

/// <summary>The CP1 error codes a decision can fail with.</summary>
public static class RouteErrorCodes
{
    /// <summary>The policy does not exist (HTTP 404).</summary>
    public const string PolicyNotFound = "policy_not_found";

    /// <summary>No provider could be chosen (HTTP 500).</summary>
    public const string DecisionFailed = "decision_failed";
}

/// <summary>
/// The router's answer: a provider or an error. A struct returned by value, so a decision
/// allocates nothing; <see cref="Metadata"/> and <see cref="Fallbacks"/> are shared per policy.
/// </summary>
public readonly struct RouteDecision
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    /// <summary>The chosen provider; null when the decision failed.</summary>
    public string? ProviderId { get; init; }

    /// <summary>The CP1 priority.</summary>
    public int Priority { get; init; }

    /// <summary>The expected latency in ms (the provider's EWMA).</summary>
    public double ExpectedLatencyMs { get; init; }

    /// <summary>The expected cost of the call.</summary>
    public double ExpectedCost { get; init; }

    /// <summary>Why: one of <see cref="RouteReasons"/>.</summary>
    public string Reason { get; init; }

    /// <summary>The policy used.</summary>
    public string? PolicyId { get; init; }

    /// <summary>The algorithm and its inputs (e.g. <c>algorithm</c>, <c>weights</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get => field ?? NoMetadata; init; }

    /// <summary>The policy's fallback rules, for the executor's retry loop; null on failure.</summary>
    public FallbackPlan? Fallbacks { get; init; }

    /// <summary>The CP1 error code when the decision failed (<see cref="RouteErrorCodes"/>).</summary>
    public string? ErrorCode { get; init; }

    /// <summary>The error message when the decision failed.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>True when a provider was chosen.</summary>
    public bool IsSuccess => ProviderId is not null;

    /// <summary>A failed decision.</summary>
    public static RouteDecision Failure(string code, string message, string? policyId) =>
        new() { ErrorCode = code, ErrorMessage = message, PolicyId = policyId, Reason = string.Empty };
}
