namespace Beamline.Audit;

/// <summary>
/// One entry of the audit chain: an <see cref="AuditRecord"/> with its place in the chain.
/// <see cref="Hash"/> is <see cref="AuditHash.Compute"/> over every other field, including
/// <see cref="Seq"/> and <see cref="PrevHash"/>, so that an edit, a deletion or a reordering
/// breaks the chain from that entry on.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>The position in the log: 1, 2, 3… without gaps.</summary>
    public required long Seq { get; init; }

    /// <summary>When it happened (UTC, millisecond precision).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>One of <see cref="AuditKinds"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>The tenant, or null for a system-wide admin change.</summary>
    public string? TenantId { get; init; }

    /// <summary>The API key's id.</summary>
    public string? KeyId { get; init; }

    /// <summary>The request's id.</summary>
    public string? RequestId { get; init; }

    /// <summary>The provider.</summary>
    public string? ProviderId { get; init; }

    /// <summary>The policy.</summary>
    public string? PolicyId { get; init; }

    /// <summary><c>ok</c>, a CP1 error code, or an HTTP status code.</summary>
    public required string Status { get; init; }

    /// <summary>The cost in nano-dollars.</summary>
    public long CostNanos { get; init; }

    /// <summary>Input tokens.</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>The request body's SHA-256 (hex), or null.</summary>
    public string? RequestSha256 { get; init; }

    /// <summary>The response body's SHA-256 (hex), or null.</summary>
    public string? ResponseSha256 { get; init; }

    /// <summary>For admin changes, <c>METHOD path</c>.</summary>
    public string? Action { get; init; }

    /// <summary>For admin changes, who made them.</summary>
    public string? Actor { get; init; }

    /// <summary>The previous entry's <see cref="Hash"/>; <see cref="AuditHash.Genesis"/> for entry 1.</summary>
    public required string PrevHash { get; init; }

    /// <summary>This entry's SHA-256 (lowercase hex).</summary>
    public required string Hash { get; init; }
}
