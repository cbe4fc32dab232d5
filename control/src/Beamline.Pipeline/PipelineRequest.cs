using System.Collections.Immutable;
using Beamline.Routing;

namespace Beamline.Pipeline;

/// <summary>What the payload bytes of a request are, so extensions and providers read them right.</summary>
public enum PayloadKind
{
    /// <summary>No payload.</summary>
    None,

    /// <summary>A JSON value (usually an object), as UTF-8.</summary>
    Json,

    /// <summary>Plain UTF-8 text.</summary>
    Text,

    /// <summary>Opaque bytes (sent to extensions as base64).</summary>
    Binary,
}

/// <summary>
/// Who is calling, as the pipeline needs it: the tenant, and what its key may use. A face that
/// authenticated an API key passes a subclass carrying its principal, so that the admission port
/// can charge the key's and team's quotas too; the trusted NATS bus passes the tenant alone.
/// </summary>
public class Caller
{
    /// <summary>The tenant the request is charged to.</summary>
    public required string TenantId { get; init; }

    /// <summary>The API key id, or null on the trusted bus.</summary>
    public string? KeyId { get; init; }

    /// <summary>The key's team, or null (no team, or the trusted bus).</summary>
    public string? TeamId { get; init; }

    /// <summary>The providers this caller may be routed to (null: any of the tenant's).</summary>
    public ImmutableArray<string>? AllowedProviders { get; init; }

    /// <summary>The policies this caller may use (null: any of the tenant's).</summary>
    public ImmutableArray<string>? AllowedPolicies { get; init; }
}

/// <summary>
/// One request, normalized: every face (CP1 decide and execute over HTTP and NATS, the
/// OpenAI/Anthropic faces, gRPC) builds one of these and hands it to <see cref="RequestPipeline"/>.
/// Pre extensions may replace <see cref="Payload"/> and add to <see cref="Metadata"/>; both are
/// therefore mutable and owned by the pipeline for the request's life.
/// </summary>
public sealed class PipelineRequest
{
    /// <summary>The caller.</summary>
    public required Caller Caller { get; init; }

    /// <summary>The tenant (the caller's).</summary>
    public string TenantId => Caller.TenantId;

    /// <summary>The request id (CP1 <c>request_id</c>).</summary>
    public required string RequestId { get; init; }

    /// <summary>The trace id, if the client gave one.</summary>
    public string? TraceId { get; init; }

    /// <summary>The policy asked for, or null for the tenant's default.</summary>
    public string? PolicyId { get; init; }

    /// <summary>The message type (CP1 <c>task.type</c> / <c>message_type</c>: chat, completion, embedding).</summary>
    public required string MessageType { get; init; }

    /// <summary>The payload: the message being processed. Pre extensions may replace it.</summary>
    public ReadOnlyMemory<byte> Payload { get; set; }

    /// <summary>What <see cref="Payload"/> is.</summary>
    public PayloadKind PayloadKind { get; set; }

    /// <summary>The request context sent to extensions as <c>metadata</c>; pre extensions merge into it.</summary>
    public Dictionary<string, string> Metadata { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The session id, for sticky routing.</summary>
    public string? SessionId { get; init; }

    /// <summary>The user id.</summary>
    public string? UserId { get; init; }

    /// <summary>Other context values policies may read.</summary>
    public IReadOnlyDictionary<string, string>? Context { get; init; }

    /// <summary>The client's cost ceiling.</summary>
    public double? MaxCost { get; init; }

    /// <summary>The client's latency ceiling.</summary>
    public double? MaxLatencyMs { get; init; }

    /// <summary>
    /// The whole request's time limit, counted from <see cref="RequestPipeline"/> taking it:
    /// extensions and provider attempts all fit inside it. Null: the pipeline's default.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>When the deadline passes, in <see cref="TimeProvider"/> timestamps (set by the pipeline).</summary>
    internal long DeadlineAt { get; set; }

    /// <summary>Whether the client asked for the answer as a stream.</summary>
    public bool Stream { get; init; }

    /// <summary>The API the payload speaks (CP1 by default); provider clients build the upstream body from it.</summary>
    public WireFormat Format { get; init; } = WireFormat.Cp1;

    /// <summary>A provider the client named (a gateway <c>model</c>); null: the policy chooses.</summary>
    public string? PinnedProvider { get; init; }

    /// <summary>Which face took the request (<c>cp1_http</c>, <c>cp1_nats</c>, <c>openai</c>, …), for the activity stream.</summary>
    public string Face { get; init; } = "unknown";

    /// <summary>When the face built the request (a <see cref="System.Diagnostics.Stopwatch"/> timestamp): the request duration counts from here.</summary>
    public long StartedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>The prompt tokens, once counted (<see cref="Costs.ICostMeter.CountPromptTokens"/> keeps its count here); null until then.</summary>
    public long? PromptTokens { get; set; }

    /// <summary>The router's view of this request.</summary>
    public RouteRequest ToRouteRequest() => new()
    {
        TenantId = TenantId,
        Payload = Payload,
        PolicyId = PolicyId,
        RequestId = RequestId,
        MessageType = MessageType,
        SessionId = SessionId,
        UserId = UserId,
        Context = Context,
        MaxCost = MaxCost,
        MaxLatencyMs = MaxLatencyMs,
        AllowedProviders = Caller.AllowedProviders,
        PinnedProvider = PinnedProvider,
        InputTokens = PromptTokens is { } counted ? (int)Math.Min(counted, int.MaxValue) : Payload.Length == 0 ? 0 : Math.Max(1, Payload.Length / 4),
    };
}
