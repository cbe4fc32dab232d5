using Beamline.Pipeline;
using Beamline.Pipeline.Costs;

namespace Beamline.Host.Replay;

/// <summary>
/// One kept request (a row of <c>replay.db</c>): enough of the <see cref="PipelineRequest"/> to run
/// it again, and what it came to. Bodies are PII-masked before they are written; a streamed
/// answer's text is not kept (<see cref="ResponseBody"/> is null for a stream).
/// </summary>
internal sealed record ReplayRecord
{
    /// <summary>The tenant charged.</summary>
    public required string TenantId { get; init; }

    /// <summary>The request id.</summary>
    public required string RequestId { get; init; }

    /// <summary>When the request finished.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>The face that took it (<c>openai</c>, <c>cp1_http</c>, <c>replay</c>, …).</summary>
    public string Face { get; init; } = "unknown";

    /// <summary>The API the payload speaks.</summary>
    public WireFormat Format { get; init; } = WireFormat.Cp1;

    /// <summary>The message type (chat, completion, embedding).</summary>
    public string MessageType { get; init; } = "chat";

    /// <summary>The policy the request asked for (null: the tenant's default).</summary>
    public string? PolicyId { get; init; }

    /// <summary>The policy used, when routing got that far.</summary>
    public string? UsedPolicyId { get; init; }

    /// <summary>The provider the client named, or null.</summary>
    public string? PinnedProvider { get; init; }

    /// <summary>The provider that answered, or null.</summary>
    public string? ProviderId { get; init; }

    /// <summary>The model the answering provider was asked for, or null.</summary>
    public string? Model { get; init; }

    /// <summary><c>ok</c>, or the CP1 error code that ended the request.</summary>
    public string Status { get; init; } = "ok";

    /// <summary>The error's message (masked), or null.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>Whether the client asked for a stream.</summary>
    public bool Stream { get; init; }

    /// <summary>What <see cref="RequestBody"/> is.</summary>
    public PayloadKind RequestKind { get; init; }

    /// <summary>The request payload as the pipeline held it after pre extensions (masked once written), or null (binary payloads are not kept).</summary>
    public byte[]? RequestBody { get; init; }

    /// <summary>Whether <see cref="RequestBody"/> was cut at <see cref="ReplayOptions.MaxBodyBytes"/> (such a request cannot be replayed).</summary>
    public bool RequestTruncated { get; init; }

    /// <summary>The whole answer (masked once written), or null (an error, or a stream).</summary>
    public byte[]? ResponseBody { get; init; }

    /// <summary>Whether <see cref="ResponseBody"/> was cut at <see cref="ReplayOptions.MaxBodyBytes"/>.</summary>
    public bool ResponseTruncated { get; init; }

    /// <summary>The request metadata (extensions' context, the gateway's model), values masked once written.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The tokens used, or null when no provider answered.</summary>
    public TokenUsage? Usage { get; init; }

    /// <summary>The cost in nano-dollars.</summary>
    public long CostNanos { get; init; }
}
