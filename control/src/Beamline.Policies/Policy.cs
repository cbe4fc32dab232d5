using System.Collections.Immutable;
using System.Text.Json;

namespace Beamline.Policies;

/// <summary>
/// One CP1 policy after loading: every legacy and current form normalised into one shape. Built
/// once by <see cref="PolicyLoader"/>; the router never looks at the JSON again.
/// </summary>
public sealed record Policy
{
    /// <summary>The policy id (the file name without <c>.json</c> unless the loader was given one).</summary>
    public required string Id { get; init; }

    /// <summary>The <c>version</c> field as written, or null.</summary>
    public string? Version { get; init; }

    /// <summary>Where the policy was read from, for messages; null when it came from memory.</summary>
    public string? Source { get; init; }

    /// <summary>How the primary provider is chosen. Defaults to <see cref="RoutingStrategy.Weighted"/>.</summary>
    public RoutingStrategy Strategy { get; init; } = RoutingStrategy.Weighted;

    /// <summary>The candidate providers in declaration order, from <c>providers[]</c> then <c>weights{}</c>.</summary>
    public ImmutableArray<ProviderWeight> Providers { get; init; } = [];

    /// <summary>Fallback rules in the order they are tried: <c>fallbacks[]</c>, then the legacy <c>fallback{}</c>.</summary>
    public ImmutableArray<FallbackRule> Fallbacks { get; init; } = [];

    /// <summary>Sticky sessions, or null when the policy has none or disables them.</summary>
    public StickySettings? Sticky { get; init; }

    /// <summary>The circuit breaker, or null when the policy has none or disables it.</summary>
    public CircuitBreakerSettings? CircuitBreaker { get; init; }

    /// <summary>Extensions run before routing (<c>pre[]</c>), in order.</summary>
    public ImmutableArray<ExtensionStep> Pre { get; init; } = [];

    /// <summary>Validators (<c>validators[]</c>), in order.</summary>
    public ImmutableArray<ExtensionStep> Validators { get; init; } = [];

    /// <summary>Extensions run on the provider's answer (<c>post[]</c>), in order.</summary>
    public ImmutableArray<ExtensionStep> Post { get; init; } = [];

    /// <summary>The <c>metadata</c> object's members (detached JSON values).</summary>
    public ImmutableDictionary<string, JsonElement> Metadata { get; init; } = ImmutableDictionary<string, JsonElement>.Empty;

    /// <summary>
    /// The source when the policy is written in the policy language (then the program decides per
    /// request: <see cref="Strategy"/> is unused, <see cref="Providers"/> lists the providers its own
    /// routes name, for views, and <see cref="Fallbacks"/> holds its top-level fallbacks); null for a
    /// CP1 JSON policy.
    /// </summary>
    public Language.LanguagePolicy? Language { get; init; }
}

/// <summary>How a policy picks its primary provider.</summary>
public enum RoutingStrategy
{
    /// <summary>A weighted random pick (CP1's default).</summary>
    Weighted,

    /// <summary>The lowest expected cost among the providers that meet the request's constraints.</summary>
    Cheapest,

    /// <summary>The lowest expected latency (EWMA of observed latencies).</summary>
    Fastest,

    /// <summary>The highest catalog quality score.</summary>
    BestQuality,
}

/// <summary>A candidate provider and its weight.</summary>
/// <param name="Name">The provider id, as the catalog knows it.</param>
/// <param name="Weight">The weight as written (fraction, percent or any relative number).</param>
/// <param name="Share">The normalised share in [0, 1]; the shares of a policy sum to 1.</param>
public sealed record ProviderWeight(string Name, double Weight, double Share);

/// <summary>One fallback rule: when the current provider fails with one of <see cref="When"/>, retry it
/// <see cref="Retry"/> times, then go to <see cref="To"/>.</summary>
public sealed record FallbackRule
{
    /// <summary>The failures this rule handles.</summary>
    public required FailureKinds When { get; init; }

    /// <summary>The message types this rule is limited to; empty for all.</summary>
    public ImmutableArray<string> MessageTypes { get; init; } = [];

    /// <summary>How many times the failing provider is retried before switching. Defaults to 1 (0 for the legacy form).</summary>
    public int Retry { get; init; }

    /// <summary>The provider to switch to.</summary>
    public required string To { get; init; }

    /// <summary>True when the rule came from the legacy <c>fallback{provider, conditions}</c>.</summary>
    public bool IsLegacy { get; init; }
}

/// <summary>Sticky sessions: requests with the same session key value keep their provider for <see cref="Ttl"/>.</summary>
public sealed record StickySettings
{
    /// <summary>The session key used when a policy names none.</summary>
    public const string DefaultSessionKey = "session_id";

    /// <summary>The context field whose value identifies a session (<c>session_id</c>, <c>user_id</c>, or any context key).</summary>
    public string SessionKey { get; init; } = DefaultSessionKey;

    /// <summary>How long a session keeps its provider, counted from the assignment. Defaults to 10 minutes.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>Circuit breaker thresholds (CP1 names in brackets).</summary>
public sealed record CircuitBreakerSettings
{
    /// <summary>Consecutive failures that open the breaker (<c>failure_threshold</c>). Defaults to 5.</summary>
    public int FailureThreshold { get; init; } = 5;

    /// <summary>The error rate in (0, 1] that opens the breaker (<c>error_rate_threshold</c>); null when unset.</summary>
    public double? ErrorRateThreshold { get; init; }

    /// <summary>The sliding window over which the error rate is measured (<c>error_rate_window_seconds</c>). Defaults to 60 s.</summary>
    public TimeSpan ErrorRateWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Successes in half-open that close the breaker (<c>success_threshold</c>). Defaults to 2.</summary>
    public int SuccessThreshold { get; init; } = 2;

    /// <summary>Trial calls allowed at once in half-open (<c>half_open_max_calls</c>). Defaults to 3.</summary>
    public int HalfOpenMaxCalls { get; init; } = 3;

    /// <summary>How long the breaker stays open before a trial (<c>timeout_ms</c>). Defaults to 60 s.</summary>
    public TimeSpan OpenTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a half-open trial slot stays taken without an outcome (<c>half_open_trial_timeout_ms</c>,
    /// a Beamline extension): a decision whose call is never reported (a decide-only request, a
    /// caller that went away) gives its slot back after this. Defaults to 60 s.
    /// </summary>
    public TimeSpan TrialTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Where in the pipeline an extension runs.</summary>
public enum ExtensionStage
{
    /// <summary><c>pre[]</c>: may rewrite the payload before routing.</summary>
    Pre,

    /// <summary><c>validators[]</c>: may reject the request.</summary>
    Validate,

    /// <summary><c>post[]</c>: may rewrite the provider's answer.</summary>
    Post,
}

/// <summary>Whether a pre/post extension must succeed (<c>mode</c>).</summary>
public enum ExtensionMode
{
    /// <summary><c>required</c>: its failure fails the request.</summary>
    Required,

    /// <summary><c>optional</c>: its failure is logged and skipped.</summary>
    Optional,
}

/// <summary>What a validator's rejection (or timeout) does (<c>on_fail</c>).</summary>
public enum ValidatorFailAction
{
    /// <summary><c>block</c>: the request is refused (<c>validator_blocked</c>).</summary>
    Block,

    /// <summary><c>warn</c>: logged, the request goes on.</summary>
    Warn,

    /// <summary><c>ignore</c>: the request goes on silently.</summary>
    Ignore,
}

/// <summary>One extension reference, stored for the extensions pipeline.</summary>
public sealed record ExtensionStep
{
    /// <summary>The stage it belongs to.</summary>
    public required ExtensionStage Stage { get; init; }

    /// <summary>The extension id in the registry.</summary>
    public required string Id { get; init; }

    /// <summary><c>mode</c>. Defaults to <see cref="ExtensionMode.Required"/>.</summary>
    public ExtensionMode Mode { get; init; } = ExtensionMode.Required;

    /// <summary><c>on_fail</c>. Defaults to <see cref="ValidatorFailAction.Block"/>.</summary>
    public ValidatorFailAction OnFail { get; init; } = ValidatorFailAction.Block;

    /// <summary>The <c>config</c> object (detached), or null.</summary>
    public JsonElement? Config { get; init; }
}
