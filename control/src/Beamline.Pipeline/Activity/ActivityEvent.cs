namespace Beamline.Pipeline.Activity;

/// <summary>What happened: the kinds of <see cref="ActivityEvent"/>.</summary>
public static class ActivityKinds
{
    /// <summary>A face took a request.</summary>
    public const string Received = "received";

    /// <summary>An extension answered, failed or was skipped.</summary>
    public const string Extension = "extension";

    /// <summary>The router chose a provider (or failed to).</summary>
    public const string Decision = "decision";

    /// <summary>One provider call ended.</summary>
    public const string ProviderAttempt = "provider_attempt";

    /// <summary>The first chunk of a streamed answer arrived.</summary>
    public const string FirstChunk = "first_chunk";

    /// <summary>A post extension changed the answer.</summary>
    public const string PostChange = "post_change";

    /// <summary>The request ended (<see cref="ActivityEvent.Status"/> is its CP1 status or error code).</summary>
    public const string Final = "final";

    /// <summary>The request's cost became known.</summary>
    public const string Cost = "cost";

    /// <summary>A budget crossed an alert threshold (<see cref="ActivityEvent.Subject"/> is <c>level:id</c>; not tied to one request).</summary>
    public const string BudgetAlert = "budget_alert";
}

/// <summary>
/// One event of the activity stream: every stage of every request emits these into the
/// in-process bus (<see cref="IActivitySink"/>), which serves them over SSE and NATS. Small and
/// flat so that it serializes in one pass; fields that do not apply are null.
/// </summary>
public sealed record ActivityEvent
{
    /// <summary>The bus's sequence number (set by the bus).</summary>
    public long Sequence { get; init; }

    /// <summary>When it happened.</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>One of <see cref="ActivityKinds"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>The tenant (events are filtered and published per tenant).</summary>
    public required string TenantId { get; init; }

    /// <summary>The request.</summary>
    public required string RequestId { get; init; }

    /// <summary>The trace id, if any.</summary>
    public string? TraceId { get; init; }

    /// <summary>The face (<see cref="PipelineRequest.Face"/>) for <c>received</c>; the stage for extension events.</summary>
    public string? Stage { get; init; }

    /// <summary>The extension, policy or provider the event is about.</summary>
    public string? Subject { get; init; }

    /// <summary>ok, a CP1 error code, reject, skipped, …</summary>
    public string? Status { get; init; }

    /// <summary>How long the step took.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>The cost in USD (<c>cost</c> events).</summary>
    public double? CostUsd { get; init; }

    /// <summary>A short human-readable detail (a reason, a message).</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// Where stages emit their events. Never blocks and never throws: a full buffer drops the event
/// (and counts it), so that a slow reader never slows a request.
/// </summary>
public interface IActivitySink
{
    /// <summary>Whether anyone listens: emitters may skip building events when nobody does.</summary>
    bool IsEnabled { get; }

    /// <summary>Emits <paramref name="activity"/>.</summary>
    void Publish(ActivityEvent activity);
}

/// <summary>A sink that drops everything (tests, benchmarks).</summary>
public sealed class NullActivitySink : IActivitySink
{
    /// <summary>The one instance.</summary>
    public static NullActivitySink Instance { get; } = new();

    /// <inheritdoc />
    public bool IsEnabled => false;

    /// <inheritdoc />
    public void Publish(ActivityEvent activity)
    {
    }
}
