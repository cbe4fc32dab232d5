namespace Beamline.Audit;

/// <summary>
/// What a caller appends to the audit log: every field of an <see cref="AuditEntry"/> except the
/// ones the log assigns (its sequence number and hashes). Never a request or response body, nor a
/// secret: bodies are recorded by their SHA-256 (<see cref="AuditHash.Sha256Hex"/>).
/// </summary>
public sealed record AuditRecord
{
    /// <summary>When it happened; truncated to milliseconds. Default: when it is appended.</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>One of <see cref="AuditKinds"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>The tenant, or null for a system-wide admin change.</summary>
    public string? TenantId { get; init; }

    /// <summary>The API key's id (never the key).</summary>
    public string? KeyId { get; init; }

    /// <summary>The request's id.</summary>
    public string? RequestId { get; init; }

    /// <summary>The provider chosen or called.</summary>
    public string? ProviderId { get; init; }

    /// <summary>The policy that decided.</summary>
    public string? PolicyId { get; init; }

    /// <summary><c>ok</c>, a CP1 error code, or for admin changes the HTTP status code.</summary>
    public required string Status { get; init; }

    /// <summary>The cost in nano-dollars (0 when none).</summary>
    public long CostNanos { get; init; }

    /// <summary>Input tokens (0 when none).</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens (0 when none).</summary>
    public long OutputTokens { get; init; }

    /// <summary>The request body's SHA-256, lowercase hex, or null.</summary>
    public string? RequestSha256 { get; init; }

    /// <summary>The response body's SHA-256, lowercase hex, or null.</summary>
    public string? ResponseSha256 { get; init; }

    /// <summary>For admin changes, <c>METHOD path</c>, e.g. <c>PUT /admin/v1/tenants/t1</c>.</summary>
    public string? Action { get; init; }

    /// <summary>For admin changes, who: the admin key's id, or <c>admin</c>.</summary>
    public string? Actor { get; init; }
}
