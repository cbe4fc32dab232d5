namespace Beamline.Tenancy;

/// <summary>What kind of failure a <see cref="TenancyException"/> is.</summary>
public enum TenancyErrorKind
{
    /// <summary>The input is malformed (HTTP 400).</summary>
    InvalidRequest,

    /// <summary>An id names nothing (HTTP 404).</summary>
    NotFound,

    /// <summary>The id is taken (HTTP 409).</summary>
    Conflict,
}

/// <summary>A tenancy change that was refused; nothing was changed.</summary>
public sealed class TenancyException : Exception
{
    /// <summary>A refused change.</summary>
    public TenancyException(TenancyErrorKind kind, string code, string message, string? field = null)
        : base(message)
    {
        Kind = kind;
        Code = code;
        Field = field;
    }

    /// <summary>The failure's kind.</summary>
    public TenancyErrorKind Kind { get; }

    /// <summary>The CP1 error code, e.g. <c>invalid_request</c> or <c>tenant_not_found</c>.</summary>
    public string Code { get; }

    /// <summary>The offending input field (JSON path), when one is to blame.</summary>
    public string? Field { get; }

    internal static TenancyException Invalid(string field, string message)
        => new(TenancyErrorKind.InvalidRequest, TenancyErrorCodes.InvalidRequest, $"{field}: {message}", field);

    internal static TenancyException NotFound(string code, string what, string id)
        => new(TenancyErrorKind.NotFound, code, $"{what} '{id}' does not exist");

    internal static TenancyException Conflict(string what, string id)
        => new(TenancyErrorKind.Conflict, TenancyErrorCodes.AlreadyExists, $"{what} '{id}' already exists");
}

/// <summary>Error codes of the admin API (CP1 <c>error.code</c>).</summary>
public static class TenancyErrorCodes
{
    /// <summary>Malformed input (400).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>Missing or wrong admin key (401).</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>Unknown tenant (404).</summary>
    public const string TenantNotFound = "tenant_not_found";

    /// <summary>Unknown team in the tenant (404).</summary>
    public const string TeamNotFound = "team_not_found";

    /// <summary>Unknown API key in the tenant (404).</summary>
    public const string KeyNotFound = "key_not_found";

    /// <summary>Unknown policy in the tenant (404, as in CP1).</summary>
    public const string PolicyNotFound = "policy_not_found";

    /// <summary>Unknown provider (404).</summary>
    public const string ProviderNotFound = "provider_not_found";

    /// <summary>The id is taken (409).</summary>
    public const string AlreadyExists = "already_exists";
}
