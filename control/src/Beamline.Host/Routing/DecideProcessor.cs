using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Routing;
using Beamline.Tenancy;
using Beamline.Pipeline;
using Beamline.Pipeline.Admission;

namespace Beamline.Host.Routing;

/// <summary>
/// The CP1 decide face, transport aside: decode, check the caller may act for the tenant, run the
/// pipeline's decide (admit → pre → validators → route), optionally push the ExecAssignment,
/// write the reply. A policy without pre or validator steps decides synchronously (no I/O but a
/// buffered NATS publish), so that the NATS handler can answer on the client's delivery loop;
/// one with extensions completes later (<see cref="DecideStart.Pending"/>).
/// </summary>
internal sealed class DecideProcessor(RequestPipeline pipeline, AssignmentPublisher publisher, ITenantDirectory directory, DecisionStore decisions)
{
    // The reply metadata of a decide without a push: the same for every decide of this process,
    // so it is built once (the decision store keeps a reference to it).
    private readonly KeyValuePair<string, string>[] _instanceOnly = [new("instance_id", pipeline.Routing.InstanceId)];

    /// <summary>Metadata <c>assignment</c> when the ExecAssignment was published.</summary>
    public const string AssignmentPublished = "published";

    /// <summary>Metadata <c>assignment</c> when no NATS connection exists to publish it on.</summary>
    public const string AssignmentNotConfigured = "not_published: NATS is not configured (Beamline:Nats:Url)";

    /// <summary>
    /// Metadata <c>assignment</c> begins so when JetStream did not acknowledge the assignment
    /// (<see cref="AssignmentOptions.JetStream"/>); the reason follows.
    /// </summary>
    public const string AssignmentNotStoredPrefix = "not_published: JetStream did not store it: ";

    /// <summary>The request metadata extensions add that a decide reports in its decision's metadata.</summary>
    private static readonly string[] ExtensionMetadata = ["validator_warnings", "extensions_skipped"];

    /// <summary>
    /// Starts a decide. When <see cref="DecideStart.Status"/> is not 0 the reply is written to
    /// <paramref name="writer"/>; otherwise await <see cref="DecideStart.Pending"/> and call
    /// <see cref="Finish"/> with a writer of the caller's. <paramref name="principal"/> is the API
    /// key's principal over HTTP, null on the trusted NATS bus, where the body's <c>tenant_id</c>
    /// must only name a known tenant.
    /// </summary>
    public DecideStart Start(ReadOnlySpan<byte> body, TenantPrincipal? principal, Utf8JsonWriter writer, int maxRequestBytes, string face,
        CancellationToken cancellationToken)
    {
        var parsed = DecideCodec.Parse(body, maxRequestBytes);
        if (parsed.Request is not { } request)
        {
            DecideCodec.WriteError(writer, parsed);
            return new DecideStart(parsed.Error?.HttpStatus ?? 400, null, default);
        }
        if (principal is not null && Refuse(principal, request) is { } refusal)
        {
            DecideCodec.WriteError(writer, refusal, request.RequestId, request.TraceId);
            return new DecideStart(refusal.HttpStatus, request, default);
        }
        if (request.PushAssignment && publisher.Refuse(request) is { } refusedPush)
        {
            DecideCodec.WriteError(writer, refusedPush, request.RequestId, request.TraceId);
            return new DecideStart(refusedPush.HttpStatus, request, default);
        }
        var pipelineRequest = Cp1PipelineRequests.From(request, principal, directory, face);
        var pending = pipeline.DecideAsync(pipelineRequest, cancellationToken);
        // A push through JetStream waits for the stream's acknowledgement: never on the caller's loop.
        if (pending.IsCompletedSuccessfully && !(request.PushAssignment && publisher.WaitsForStream))
        {
            return new DecideStart(Finish(request, pipelineRequest, pending.Result, writer), request, default);
        }
        return new DecideStart(0, request, pending) { PipelineRequest = pipelineRequest, CancellationToken = cancellationToken };
    }

    /// <summary>Awaits a pending decide and writes its reply to <paramref name="writer"/>; returns its HTTP status.</summary>
    public async Task<int> CompleteAsync(DecideStart start, Utf8JsonWriter writer)
    {
        var result = await start.Pending.ConfigureAwait(false);
        var request = start.Request!;
        if (request.PushAssignment && publisher.WaitsForStream && result.Error is null)
        {
            return await PushThroughStreamAsync(request, start.PipelineRequest!, result, writer, start.CancellationToken).ConfigureAwait(false);
        }
        return Finish(request, start.PipelineRequest!, result, writer);
    }

    // As Finish and Reply, with the push awaited: the decision says 'published' only once the stream has the assignment.
    private async Task<int> PushThroughStreamAsync(DecideRequest request, PipelineRequest pipelineRequest, DecideResult result, Utf8JsonWriter writer,
        CancellationToken cancellationToken)
    {
        var lease = result.Lease!;
        try
        {
            var slots = lease.Detach();
            var decision = result.Decision;
            var (outcome, reason) = await publisher.PublishAsync(WithPipelinePayload(request, pipelineRequest), decision, slots, cancellationToken)
                .ConfigureAwait(false);
            return Reply(request, pipelineRequest, decision, outcome, reason, slots, writer);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Writes the reply of a decide the pipeline has answered; returns its HTTP status.</summary>
    public int Finish(DecideRequest request, PipelineRequest pipelineRequest, DecideResult result, Utf8JsonWriter writer)
    {
        if (result.Error is { } error)
        {
            DecideCodec.WriteError(writer, error, request.RequestId, request.TraceId);
            return error.HttpStatus;
        }
        var lease = result.Lease!;
        // A published assignment keeps the slots (the tracker gives them back); anything else gives them back here.
        try
        {
            if (!request.PushAssignment)
            {
                return Reply(request, pipelineRequest, result.Decision, null, null, null, writer);
            }
            var slots = lease.Detach();
            var outcome = publisher.TryPublish(WithPipelinePayload(request, pipelineRequest), result.Decision, slots);
            return Reply(request, pipelineRequest, result.Decision, outcome, null, slots, writer);
        }
        finally
        {
            lease.Dispose();
        }
    }

    // outcome: what became of the push, null without one; slots: the lease's, the tracker's when published.
    private int Reply(DecideRequest request, PipelineRequest pipelineRequest, in RouteDecision decision, AssignmentPublisher.Outcome? outcome, string? reason,
        IDisposable? slots, Utf8JsonWriter writer)
    {
        var extra = _instanceOnly;
        if (outcome is { } pushed)
        {
            if (pushed != AssignmentPublisher.Outcome.Published)
            {
                slots?.Dispose();
            }
            if (pushed == AssignmentPublisher.Outcome.TooLarge)
            {
                // Nothing was sent: the decision is not used, so its breaker trial slot goes back too.
                pipeline.Routing.ReleaseTrial(request.TenantId, decision.PolicyId, decision.ProviderId!);
                var error = new Cp1Error(Cp1ErrorCodes.InvalidRequest, "the assignment is larger than the NATS server's max_payload",
                    request.Form == DecideRequestForm.Message ? "message.payload" : "task.payload", Cp1ErrorTypes.TooLarge);
                DecideCodec.WriteError(writer, error, request.RequestId, request.TraceId);
                return error.HttpStatus;
            }
            var assignment = pushed switch
            {
                AssignmentPublisher.Outcome.Published => AssignmentPublished,
                AssignmentPublisher.Outcome.NotStored => AssignmentNotStoredPrefix + reason,
                _ => AssignmentNotConfigured,
            };
            extra = [new("instance_id", pipeline.Routing.InstanceId), new("assignment", assignment)];
        }
        extra = WithExtensionMetadata(extra, pipelineRequest);
        DecideCodec.WriteOk(writer, decision, request.RequestId, request.TraceId, extra);
        decisions.Add(request, decision, extra);
        return 200;
    }

    // Pre extensions may have replaced the payload: a pushed assignment carries what they made of it
    // (a redacted or normalized request), not what the client sent.
    private static DecideRequest WithPipelinePayload(DecideRequest request, PipelineRequest pipelineRequest)
    {
        if (pipelineRequest.Payload.Equals(request.Payload))
        {
            return request;
        }
        return request with
        {
            Payload = pipelineRequest.Payload,
            PayloadEncoding = pipelineRequest.PayloadKind switch
            {
                // A client's JSON-in-a-string stays a string, as it came.
                PayloadKind.Json => request.PayloadEncoding == PayloadEncoding.JsonString ? PayloadEncoding.JsonString : PayloadEncoding.Json,
                PayloadKind.Text => PayloadEncoding.Text,
                PayloadKind.Binary => PayloadEncoding.Base64,
                _ => PayloadEncoding.None,
            },
        };
    }

    // What extensions said about the request (warnings, skipped optional steps) goes into the decision's metadata.
    private static KeyValuePair<string, string>[] WithExtensionMetadata(KeyValuePair<string, string>[] extra, PipelineRequest request)
    {
        List<KeyValuePair<string, string>>? added = null;
        foreach (var key in ExtensionMetadata)
        {
            if (request.Metadata.TryGetValue(key, out var value))
            {
                (added ??= [.. extra]).Add(new(key, value));
            }
        }
        return added is null ? extra : [.. added];
    }

    /// <summary>Writes an <c>unauthorized</c> reply (no or a bad API key).</summary>
    public static int WriteUnauthorized(Utf8JsonWriter writer, string message)
    {
        DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Unauthorized, message), null, null);
        return 401;
    }

    /// <summary>The <c>retry_after_seconds</c> of a <c>quota_exceeded</c> reply, for a transport's <c>Retry-After</c> header.</summary>
    internal static bool TryGetRetryAfter(ReadOnlySpan<byte> reply, out int seconds)
    {
        seconds = 0;
        try
        {
            var reader = new Utf8JsonReader(reply);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.TryGetProperty("error", out var error)
                && error.TryGetProperty("details", out var details)
                && details.TryGetProperty("retry_after_seconds", out var value)
                && value.TryGetInt32(out seconds);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    // A valid key acting for another tenant is authenticated but not allowed: CP1 `denied` (403),
    // not `unauthorized`. (A policy outside the key's allow-list is the pipeline's to refuse.)
    internal static Cp1Error? Refuse(TenantPrincipal principal, DecideRequest request)
        => string.Equals(request.TenantId, principal.TenantId, StringComparison.Ordinal)
            ? null
            : new Cp1Error(Cp1ErrorCodes.Denied, "the API key does not belong to this tenant_id", "tenant_id", Cp1ErrorTypes.InvalidValue);
}

/// <summary>A started decide: its status when answered already, else the pending pipeline decide.</summary>
internal readonly record struct DecideStart(int Status, DecideRequest? Request, ValueTask<DecideResult> Pending)
{
    /// <summary>The pipeline request of a pending decide.</summary>
    public PipelineRequest? PipelineRequest { get; init; }

    /// <summary>The decide's cancellation, for what completes it later (a push through JetStream).</summary>
    public CancellationToken CancellationToken { get; init; }
}
