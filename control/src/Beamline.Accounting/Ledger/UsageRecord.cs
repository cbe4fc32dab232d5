namespace Beamline.Accounting.Ledger;

/// <summary>
/// One finished execute as the ledger keeps it: who (tenant, team, key), what (provider, model,
/// tokens, cost) and how it ended. Spend is integer nano-dollars (<see cref="Pipeline.Costs.Nanos"/>).
/// </summary>
public readonly record struct UsageRecord
{
    /// <summary>When the request finished (UTC; the day it is counted on).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The caller's team, if any.</summary>
    public string? TeamId { get; init; }

    /// <summary>The API key's id, if the caller used one.</summary>
    public string? KeyId { get; init; }

    /// <summary>The request id.</summary>
    public required string RequestId { get; init; }

    /// <summary>The provider that answered (or was last tried).</summary>
    public required string ProviderId { get; init; }

    /// <summary>The model the provider was asked for, if known.</summary>
    public string? Model { get; init; }

    /// <summary>Prompt tokens, cached ones included.</summary>
    public long InputTokens { get; init; }

    /// <summary>Completion tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>The part of <see cref="InputTokens"/> read from the provider's prompt cache.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>True when the tokens were counted here rather than reported by the provider.</summary>
    public bool Estimated { get; init; }

    /// <summary>What the call cost, in nano-dollars.</summary>
    public long CostNanos { get; init; }

    /// <summary><c>ok</c>, or the CP1 error code the request ended with.</summary>
    public string Status { get; init; }

    /// <summary>The face that took the request (<c>openai</c>, <c>anthropic</c>, <c>cp1</c>, …).</summary>
    public string? Face { get; init; }

    /// <summary>How long the request took, in milliseconds.</summary>
    public double LatencyMs { get; init; }

    /// <summary>The status of a request that succeeded.</summary>
    public const string Ok = "ok";

    /// <summary>Creates a record; <see cref="Status"/> defaults to <see cref="Ok"/>.</summary>
    public UsageRecord() => Status = Ok;
}
