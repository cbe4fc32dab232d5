using Beamline.Routing;

namespace Beamline.Cp1;

/// <summary>Which CP1 shape a decide request came in.</summary>
public enum DecideRequestForm
{
    /// <summary><c>{version, tenant_id, request_id, task{type, payload}, ...}</c>.</summary>
    Task,

    /// <summary><c>{message{message_id, tenant_id, message_type, payload, ...}, policy_id, context}</c>.</summary>
    Message,
}

/// <summary>How the payload was written.</summary>
public enum PayloadEncoding
{
    /// <summary>No payload.</summary>
    None,

    /// <summary>A JSON value (object, array, number...): <see cref="DecideRequest.Payload"/> is its UTF-8 JSON text.</summary>
    Json,

    /// <summary>A string holding JSON text: the payload is that text.</summary>
    JsonString,

    /// <summary><c>payload_base64</c>, or a <c>payload</c> declared <c>payload_encoding: "base64"</c>: the payload is the decoded bytes.</summary>
    Base64,

    /// <summary>Any other string (never guessed to be base64): the payload is its UTF-8 text.</summary>
    Text,
}

/// <summary>A validated CP1 decide request (both forms normalised).</summary>
public sealed record DecideRequest
{
    /// <summary>The default subject for <c>push_assignment</c>.</summary>
    public const string DefaultAssignmentSubject = "caf.exec.assign.v1";

    /// <summary>The form it came in.</summary>
    public DecideRequestForm Form { get; init; }

    /// <summary><c>version</c> (always <c>"1"</c> for the task form; null when the message form omits it).</summary>
    public string? Version { get; init; }

    /// <summary><c>tenant_id</c> (or <c>message.tenant_id</c>).</summary>
    public required string TenantId { get; init; }

    /// <summary><c>request_id</c> (or <c>message.message_id</c>).</summary>
    public required string RequestId { get; init; }

    /// <summary><c>trace_id</c> (or <c>message.trace_id</c>), or null.</summary>
    public string? TraceId { get; init; }

    /// <summary><c>task.type</c> (or <c>message.message_type</c>).</summary>
    public required string TaskType { get; init; }

    /// <summary>The payload bytes (see <see cref="PayloadEncoding"/>).</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>How the payload was written.</summary>
    public PayloadEncoding PayloadEncoding { get; init; }

    /// <summary><c>policy_id</c>, or null for the default policy.</summary>
    public string? PolicyId { get; init; }

    /// <summary><c>constraints.max_cost</c>.</summary>
    public double? MaxCost { get; init; }

    /// <summary><c>constraints.max_latency_ms</c>.</summary>
    public double? MaxLatencyMs { get; init; }

    /// <summary><c>metadata</c> (non-string values as their JSON text).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary><c>context.session_id</c>.</summary>
    public string? SessionId { get; init; }

    /// <summary><c>context.user_id</c>.</summary>
    public string? UserId { get; init; }

    /// <summary>Every string member of <c>context</c> (including session_id and user_id).</summary>
    public IReadOnlyDictionary<string, string> Context { get; init; } = new Dictionary<string, string>();

    /// <summary><c>push_assignment</c>: also publish an ExecAssignment. Defaults to false.</summary>
    public bool PushAssignment { get; init; }

    /// <summary><c>assignment_subject</c>. Defaults to <see cref="DefaultAssignmentSubject"/>.</summary>
    public string AssignmentSubject { get; init; } = DefaultAssignmentSubject;

    /// <summary><c>message.message_id</c> (message form only).</summary>
    public string? MessageId { get; init; }

    /// <summary><c>message.timestamp_ms</c> (message form only).</summary>
    public long? TimestampMs { get; init; }

    /// <summary>The router's view of this request; input tokens are estimated at 4 payload bytes each.</summary>
    public RouteRequest ToRouteRequest() => new()
    {
        TenantId = TenantId,
        PolicyId = PolicyId,
        RequestId = RequestId,
        MessageType = TaskType,
        SessionId = SessionId,
        UserId = UserId,
        Context = Context,
        MaxCost = MaxCost,
        MaxLatencyMs = MaxLatencyMs,
        InputTokens = Payload.Length == 0 ? 0 : Math.Max(1, Payload.Length / 4),
    };
}

/// <summary>The decoder's answer: a request, or an error with whatever context could be read.</summary>
public readonly struct DecideParseResult
{
    /// <summary>The request when valid.</summary>
    public DecideRequest? Request { get; init; }

    /// <summary>The error when invalid.</summary>
    public Cp1Error? Error { get; init; }

    /// <summary>The request id for the reply's <c>context</c> (read even from an invalid request when possible).</summary>
    public string? RequestId { get; init; }

    /// <summary>The trace id for the reply's <c>context</c>.</summary>
    public string? TraceId { get; init; }

    /// <summary>True when <see cref="Request"/> is set.</summary>
    public bool IsOk => Request is not null;
}
