using System.Collections.Immutable;

namespace Beamline.Routing;

/// <summary>What the router needs to know about one request. A struct passed by <c>in</c>: building it allocates nothing.</summary>
public readonly struct RouteRequest
{
    /// <summary>The tenant (required).</summary>
    public required string TenantId { get; init; }

    /// <summary>The policy id; null for <see cref="RouterOptions.DefaultPolicyId"/>.</summary>
    public string? PolicyId { get; init; }

    /// <summary>The request id, for the caller's bookkeeping.</summary>
    public string? RequestId { get; init; }

    /// <summary>The task or message type (<c>chat</c>, <c>completion</c>, <c>embedding</c>, ...).</summary>
    public string? MessageType { get; init; }

    /// <summary><c>context.session_id</c>.</summary>
    public string? SessionId { get; init; }

    /// <summary><c>context.user_id</c>.</summary>
    public string? UserId { get; init; }

    /// <summary>Any other <c>context</c> members, for policies whose <c>session_key</c> names one.</summary>
    public IReadOnlyDictionary<string, string>? Context { get; init; }

    /// <summary><c>constraints.max_cost</c>: providers whose expected cost is higher are skipped.</summary>
    public double? MaxCost { get; init; }

    /// <summary><c>constraints.max_latency_ms</c>: providers whose expected latency is higher are skipped.</summary>
    public double? MaxLatencyMs { get; init; }

    /// <summary>
    /// The providers the caller may be routed to (tenancy's <c>allowed_providers</c>); others are
    /// skipped like providers that miss a constraint. Null allows every provider.
    /// </summary>
    public ImmutableArray<string>? AllowedProviders { get; init; }

    /// <summary>
    /// A provider the client named (the gateway's <c>model</c> naming a provider or one of its
    /// models): decided as that provider, with the policy's breakers and fallback plan. Null: the
    /// policy chooses.
    /// </summary>
    public string? PinnedProvider { get; init; }

    /// <summary>The request's payload (UTF-8), for language policies that read <c>request.payload</c>; empty when not given.</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>Estimated input tokens; 0 for <see cref="RouterOptions.DefaultInputTokens"/>.</summary>
    public int InputTokens { get; init; }

    /// <summary>Estimated output tokens; 0 for <see cref="RouterOptions.DefaultOutputTokens"/>.</summary>
    public int OutputTokens { get; init; }

    /// <summary>
    /// True to decide without side effects (an admin dry run): no sticky session is stored and no
    /// half-open breaker trial slot is taken; the decision is the one a real request would get now.
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>The value of a context key: <c>session_id</c>, <c>user_id</c> or a <see cref="Context"/> member.</summary>
    public string? GetContextValue(string key) => key switch
    {
        "session_id" => SessionId,
        "user_id" => UserId,
        _ => Context is not null && Context.TryGetValue(key, out var value) ? value : null,
    };
}

/// <summary>The result of one call, fed back with <see cref="IRouter.RecordOutcome"/>.</summary>
public readonly struct RouteOutcome
{
    /// <summary>The tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The policy the decision came from (null for the default).</summary>
    public string? PolicyId { get; init; }

    /// <summary>The provider that was called.</summary>
    public required string ProviderId { get; init; }

    /// <summary>The failure; <see cref="Beamline.Policies.FailureKinds.None"/> for a success.</summary>
    public Beamline.Policies.FailureKinds Failure { get; init; }

    /// <summary>The call's latency in ms.</summary>
    public double LatencyMs { get; init; }

    /// <summary>True when the call succeeded.</summary>
    public bool Succeeded => Failure == Beamline.Policies.FailureKinds.None;
}
