using System.Text.Json;

namespace Beamline.Pipeline.Extensions;

/// <summary>
/// What an extension is given: the CP1 request <c>{trace_id, tenant_id, payload, metadata}</c>
/// (plus the merged <c>config</c> for built-ins; policy config is never sent over NATS).
/// </summary>
public sealed class ExtensionInput
{
    /// <summary>The tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The request id.</summary>
    public required string RequestId { get; init; }

    /// <summary>The trace id, if any.</summary>
    public string? TraceId { get; init; }

    /// <summary>The message being processed (post: the provider's answer).</summary>
    public required ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>What <see cref="Payload"/> is.</summary>
    public required PayloadKind PayloadKind { get; init; }

    /// <summary>The request context.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>The entry's config with the policy step's config merged over it, or null.</summary>
    public JsonElement? Config { get; init; }
}

/// <summary>Why an extension call failed (its mode or <c>on_fail</c> then applies).</summary>
public enum ExtensionFailure
{
    /// <summary>It answered.</summary>
    None,

    /// <summary>No answer within <c>timeout_ms</c>.</summary>
    Timeout,

    /// <summary>Nobody serves the subject, the connection is down, or the breaker is open.</summary>
    Unavailable,

    /// <summary>The answer is not a JSON object, or not of the contract's shape.</summary>
    Malformed,

    /// <summary>The extension answered with an error, or a built-in threw.</summary>
    Error,
}

/// <summary>
/// One extension's answer, read into the contract: for pre and post, an optional new payload
/// and metadata to merge; for validators, ok or reject with a reason. A failed call carries
/// <see cref="Failure"/> and a message, nothing else.
/// </summary>
public sealed class ExtensionReply
{
    /// <summary>A reply that changes nothing (pre/post) or accepts (validator).</summary>
    public static ExtensionReply Unchanged { get; } = new();

    /// <summary>Why the call failed, or <see cref="ExtensionFailure.None"/>.</summary>
    public ExtensionFailure Failure { get; init; }

    /// <summary>What went wrong, for a failure.</summary>
    public string? Message { get; init; }

    /// <summary>Pre/post: the replacement payload, or null to keep it.</summary>
    public ReadOnlyMemory<byte>? Payload { get; init; }

    /// <summary>What the replacement payload is (when <see cref="Payload"/> is set).</summary>
    public PayloadKind PayloadKind { get; init; } = PayloadKind.Json;

    /// <summary>Pre/post: metadata to merge into the request context (JSON values other than strings as their JSON text).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Validators: true for <c>{"status":"reject"}</c>.</summary>
    public bool Rejected { get; init; }

    /// <summary>Validators: the rejection's <c>reason</c>.</summary>
    public string? Reason { get; init; }

    /// <summary>Validators: the rejection's <c>details</c> (detached), or null.</summary>
    public JsonElement? Details { get; init; }

    /// <summary>A failed call.</summary>
    public static ExtensionReply Failed(ExtensionFailure failure, string message) => new() { Failure = failure, Message = message };
}
