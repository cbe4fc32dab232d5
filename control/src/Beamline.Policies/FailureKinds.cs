namespace Beamline.Policies;

/// <summary>
/// The failures a fallback rule can name in <c>when.status</c> (CP1 spelling in brackets).
/// A flags set, so a rule matches an outcome with one AND.
/// </summary>
[Flags]
public enum FailureKinds
{
    /// <summary>No failure: the call succeeded.</summary>
    None = 0,

    /// <summary>The provider did not answer in time (<c>timeout</c>).</summary>
    Timeout = 1 << 0,

    /// <summary>Any HTTP 5xx answer (<c>5xx</c>); a 503 carries this flag as well.</summary>
    ServerError = 1 << 1,

    /// <summary>HTTP 503 (<c>503</c>).</summary>
    ServiceUnavailable = 1 << 2,

    /// <summary>HTTP 429 or a provider's own rate limit (<c>429</c>, <c>rate_limited</c>).</summary>
    RateLimited = 1 << 3,

    /// <summary>The provider's circuit breaker is open (<c>circuit_breaker_open</c>).</summary>
    CircuitBreakerOpen = 1 << 4,

    /// <summary>Every candidate provider failed or is unavailable (<c>all_providers_failed</c>).</summary>
    AllProvidersFailed = 1 << 5,

    /// <summary>Any of the above: what a rule without <c>when.status</c> matches.</summary>
    Any = Timeout | ServerError | ServiceUnavailable | RateLimited | CircuitBreakerOpen | AllProvidersFailed,
}

/// <summary>The CP1 names of <see cref="FailureKinds"/>.</summary>
public static class FailureKindNames
{
    /// <summary>Every name accepted in <c>when.status</c> and legacy <c>conditions</c>.</summary>
    public static IReadOnlyList<string> All { get; } =
        ["timeout", "5xx", "503", "429", "rate_limited", "circuit_breaker_open", "all_providers_failed"];

    /// <summary>Maps a CP1 status name to its flag; false for a name CP1 does not define.</summary>
    public static bool TryParse(string? name, out FailureKinds kind)
    {
        kind = name switch
        {
            "timeout" => FailureKinds.Timeout,
            "5xx" => FailureKinds.ServerError,
            "503" => FailureKinds.ServiceUnavailable,
            "429" or "rate_limited" => FailureKinds.RateLimited,
            "circuit_breaker_open" => FailureKinds.CircuitBreakerOpen,
            "all_providers_failed" => FailureKinds.AllProvidersFailed,
            _ => FailureKinds.None,
        };
        return kind != FailureKinds.None;
    }

    /// <summary>The flags an HTTP status carries: 429 → rate limited, 503 → 503 and 5xx, 5xx → 5xx.</summary>
    public static FailureKinds FromHttpStatus(int status) => status switch
    {
        429 => FailureKinds.RateLimited,
        503 => FailureKinds.ServiceUnavailable | FailureKinds.ServerError,
        >= 500 and <= 599 => FailureKinds.ServerError,
        _ => FailureKinds.None,
    };

    /// <summary>The CP1 names of the flags set in <paramref name="kinds"/>, comma-separated.</summary>
    public static string Format(FailureKinds kinds)
    {
        if (kinds == FailureKinds.Any)
        {
            return "any failure";
        }
        var names = new List<string>(6);
        if ((kinds & FailureKinds.Timeout) != 0) { names.Add("timeout"); }
        if ((kinds & FailureKinds.ServerError) != 0) { names.Add("5xx"); }
        if ((kinds & FailureKinds.ServiceUnavailable) != 0) { names.Add("503"); }
        if ((kinds & FailureKinds.RateLimited) != 0) { names.Add("rate_limited"); }
        if ((kinds & FailureKinds.CircuitBreakerOpen) != 0) { names.Add("circuit_breaker_open"); }
        if ((kinds & FailureKinds.AllProvidersFailed) != 0) { names.Add("all_providers_failed"); }
        return string.Join(", ", names);
    }
}
