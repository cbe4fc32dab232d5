namespace Beamline.Cp1;

/// <summary>The CP1 error codes and the HTTP status each maps to.</summary>
public static class Cp1ErrorCodes
{
    /// <summary>Malformed or invalid request (400).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>Missing or bad credentials (401).</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>Authenticated but not allowed (403).</summary>
    public const string Denied = "denied";

    /// <summary>The thing asked for (a stored decision) does not exist (404).</summary>
    public const string NotFound = "not_found";

    /// <summary>The policy does not exist (404).</summary>
    public const string PolicyNotFound = "policy_not_found";

    /// <summary>An extension named by the policy is not registered (404).</summary>
    public const string ExtensionNotFound = "extension_not_found";

    /// <summary>An extension did not answer in time (504).</summary>
    public const string ExtensionTimeout = "extension_timeout";

    /// <summary>A blocking validator rejected the request (403).</summary>
    public const string ValidatorBlocked = "validator_blocked";

    /// <summary>An extension is unavailable (503).</summary>
    public const string ExtensionUnavailable = "extension_unavailable";

    /// <summary>A quota or budget is exhausted (429).</summary>
    public const string QuotaExceeded = "quota_exceeded";

    /// <summary>No provider could be chosen (500).</summary>
    public const string DecisionFailed = "decision_failed";

    /// <summary>An unexpected failure (500).</summary>
    public const string Internal = "internal";

    /// <summary>The HTTP status for a code; 500 for a code CP1 does not define.</summary>
    public static int HttpStatus(string code) => code switch
    {
        InvalidRequest => 400,
        Unauthorized => 401,
        Denied or ValidatorBlocked => 403,
        PolicyNotFound or ExtensionNotFound or NotFound => 404,
        QuotaExceeded => 429,
        ExtensionUnavailable => 503,
        ExtensionTimeout => 504,
        _ => 500,
    };
}

/// <summary>
/// A CP1 error: <c>{"code","message","details":{"field","type"}}</c>.
/// </summary>
/// <param name="Code">One of <see cref="Cp1ErrorCodes"/>.</param>
/// <param name="Message">Human-readable; names the field.</param>
/// <param name="Field">The offending field (<c>tenant_id</c>, <c>task.type</c>), or null.</param>
/// <param name="Type">The kind of problem (<see cref="Cp1ErrorTypes"/>), or null.</param>
public sealed record Cp1Error(string Code, string Message, string? Field = null, string? Type = null)
{
    /// <summary>
    /// Seconds after which the request may be retried (<c>details.retry_after_seconds</c>; over HTTP
    /// also fit for a <c>Retry-After</c> header), for <c>quota_exceeded</c>. Null when not known.
    /// </summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>
    /// More of <c>details</c>: the properties of this object are written after <c>field</c>,
    /// <c>type</c> and <c>retry_after_seconds</c> (for example which validator blocked and why).
    /// </summary>
    public System.Text.Json.JsonElement? Details { get; init; }

    /// <summary>The HTTP status of <see cref="Code"/>.</summary>
    public int HttpStatus => Cp1ErrorCodes.HttpStatus(Code);
}

/// <summary>The <c>details.type</c> values the decoder reports.</summary>
public static class Cp1ErrorTypes
{
    /// <summary>A required field is absent (or null).</summary>
    public const string RequiredFieldMissing = "required_field_missing";

    /// <summary>A field has the wrong JSON type.</summary>
    public const string InvalidType = "invalid_type";

    /// <summary>A field has the right type but a value that is not allowed.</summary>
    public const string InvalidValue = "invalid_value";

    /// <summary>The request is larger than the limit.</summary>
    public const string TooLarge = "request_too_large";

    /// <summary>The body is not (UTF-8) JSON, or not an object.</summary>
    public const string InvalidJson = "invalid_json";
}
