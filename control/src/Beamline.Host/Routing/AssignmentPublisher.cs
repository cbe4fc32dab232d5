using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using Beamline.Tenancy.Quotas;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;
using Beamline.Cp1;
using Beamline.Routing;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

/// <summary>
/// Publishes the CP1 ExecAssignment of a decision (<c>push_assignment: true</c>) on the request's
/// <c>assignment_subject</c> on the control plane's NATS connection. Without one (no
/// <c>Beamline:Nats:Url</c>) or while NATS is down nothing is published and the decision says so.
/// Only subjects of <see cref="AssignmentOptions.AllowedSubjects"/> and the CP1 task types may be
/// pushed, and a published assignment keeps its decide's quota slots (<see cref="AssignmentTracker"/>).
/// With <see cref="AssignmentOptions.JetStream"/> the publish goes through the work-queue stream
/// (<see cref="AssignmentStream"/>) and is awaited (<see cref="PublishAsync"/>).
/// </summary>
internal sealed partial class AssignmentPublisher(ILogger<AssignmentPublisher> logger, IOptions<AssignmentOptions> options, AssignmentTracker tracker,
    ILoggerFactory loggers, INatsConnection? connection = null)
{
    private readonly FrozenSet<string> _allowedSubjects = options.Value.EffectiveAllowedSubjects.ToFrozenSet(StringComparer.Ordinal);
    private readonly AssignmentStream? _stream = options.Value.JetStream && connection is not null
        ? new AssignmentStream(loggers.CreateLogger<AssignmentStream>(), options, connection)
        : null;

    /// <summary>
    /// Whether a push waits for JetStream's acknowledgement: then decides that push go through
    /// <see cref="PublishAsync"/>, never <see cref="TryPublish"/>.
    /// </summary>
    public bool WaitsForStream => _stream is not null;

    /// <summary>With JetStream, makes the assignment and results streams now, so that results are kept from the start. Never throws.</summary>
    public Task EnsureStreamsAsync() => _stream?.EnsureAsync() ?? Task.CompletedTask;

    /// <summary>What became of a push.</summary>
    public enum Outcome
    {
        /// <summary>Written to the connection's buffer; the quota slots are held by the tracker.</summary>
        Published,

        /// <summary>No open connection: nothing was published.</summary>
        NotConnected,

        /// <summary>The assignment is larger than the server's <c>max_payload</c>: nothing was published.</summary>
        TooLarge,

        /// <summary>JetStream did not acknowledge the assignment (no stream, a timeout, a refusal): it may not have been stored.</summary>
        NotStored,
    }

    /// <summary>
    /// Why <paramref name="request"/> may not be pushed, or null: its <c>assignment_subject</c> is
    /// not allowed, or its job type (<c>task.type</c>, <c>message.message_type</c>) is not one of the
    /// CP1 task types (a worker must never be made to run <c>fs.write</c> by a decide).
    /// </summary>
    public Cp1Error? Refuse(DecideRequest request)
    {
        if (!_allowedSubjects.Contains(request.AssignmentSubject))
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"assignment_subject '{request.AssignmentSubject}' is not allowed (Beamline:Assignments:AllowedSubjects)",
                "assignment_subject", Cp1ErrorTypes.InvalidValue);
        }
        if (!IsTaskType(request.TaskType))
        {
            var field = request.Form == DecideRequestForm.Message ? "message.message_type" : "task.type";
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"a pushed assignment's job type must be one of chat, completion, embedding (got '{request.TaskType}')", field, Cp1ErrorTypes.InvalidValue);
        }
        return null;
    }

    /// <summary>
    /// Publishes. When published, <paramref name="lease"/> belongs to the tracker (held until the
    /// assignment's result or deadline); otherwise it is still the caller's to dispose. The publish
    /// is written to the connection's buffer (it does not wait for the server).
    /// </summary>
    public Outcome TryPublish(DecideRequest request, in RouteDecision decision, IDisposable? lease)
    {
        if (connection is not { ConnectionState: NatsConnectionState.Open })
        {
            return Outcome.NotConnected;
        }
        var (buffer, assignmentId, deadlineMs) = Encode(request, decision);
        var subject = request.AssignmentSubject;
        if (!Fits(connection, buffer, subject))
        {
            return Outcome.TooLarge;
        }
        tracker.Track(assignmentId, lease, TimeSpan.FromMilliseconds(deadlineMs));
        ValueTask publish;
        try
        {
            publish = connection.PublishAsync(subject, buffer.WrittenMemory);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException)
        {
            tracker.Complete(assignmentId); // the caller's lease: given back with the tracker's hold
            LogPublishFailed(subject, e.Message);
            return Outcome.NotConnected;
        }
        if (!publish.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(publish, subject, assignmentId);
        }
        return Outcome.Published;
    }

    /// <summary>
    /// Publishes through the JetStream work-queue stream, with <c>Nats-Msg-Id</c> = the
    /// assignment id, and returns once the stream has stored it (<see cref="Outcome.Published"/>)
    /// or has not (<see cref="Outcome.NotStored"/>, with the reason). The lease is
    /// handled as by <see cref="TryPublish"/>.
    /// </summary>
    public async ValueTask<(Outcome Outcome, string? Reason)> PublishAsync(DecideRequest request, RouteDecision decision, IDisposable? lease,
        CancellationToken cancellationToken)
    {
        if (_stream is null || connection is not { ConnectionState: NatsConnectionState.Open })
        {
            return (Outcome.NotConnected, null);
        }
        var (buffer, assignmentId, deadlineMs) = Encode(request, decision);
        var subject = request.AssignmentSubject;
        if (!Fits(connection, buffer, subject))
        {
            return (Outcome.TooLarge, null);
        }
        // Tracked first: a worker may answer before the stream's acknowledgement reaches us.
        tracker.Track(assignmentId, lease, TimeSpan.FromMilliseconds(deadlineMs));
        var refused = await _stream.PublishAsync(subject, buffer.WrittenMemory, assignmentId, cancellationToken).ConfigureAwait(false);
        if (refused is not null)
        {
            tracker.Complete(assignmentId);
            return (Outcome.NotStored, refused);
        }
        return (Outcome.Published, null);
    }

    private static (ArrayBufferWriter<byte> Buffer, string AssignmentId, long DeadlineMs) Encode(DecideRequest request, in RouteDecision decision)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        var assignmentId = Guid.NewGuid().ToString("D");
        using var writer = new Utf8JsonWriter(buffer);
        var deadlineMs = Write(writer, request, decision, assignmentId);
        writer.Flush();
        return (buffer, assignmentId, deadlineMs);
    }

    // The server refuses a message over its max_payload (and NATS.Net throws): say so instead.
    // Subject and headers (Nats-Msg-Id included) count too; 512 bytes covers them and the protocol line.
    private static bool Fits(INatsConnection connection, ArrayBufferWriter<byte> buffer, string subject)
        => connection.ServerInfo is not { MaxPayload: > 0 } info || buffer.WrittenCount + subject.Length + 512 <= info.MaxPayload;

    private static bool IsTaskType(string type)
    {
        foreach (var allowed in DecideCodec.TaskTypes)
        {
            if (string.Equals(type, allowed, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private async Task ObserveAsync(ValueTask publish, string subject, string assignmentId)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
        {
            tracker.Complete(assignmentId); // nothing will answer it
            LogPublishFailed(subject, e.Message);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "An assignment for {Subject} was not published: {Reason}")]
    private partial void LogPublishFailed(string subject, string reason);

    /// <summary>
    /// The CP1 ExecAssignment, as the public Beamline router's <c>router_caf_adapter</c> builds it:
    /// <c>{version, assignment_id, request_id, tenant_id, executor{provider_id, channel},
    /// job{type, payload}, options{priority, deadline_ms, retry{max_attempts, backoff_ms}},
    /// correlation{trace_id?}, decision{provider_id, priority, expected_latency_ms, expected_cost,
    /// reason}, metadata{}}</c>, plus Beamline's <c>trace_id</c>, <c>policy_id</c> and <c>context</c>.
    /// </summary>
    internal static long Write(Utf8JsonWriter writer, DecideRequest request, in RouteDecision decision, string assignmentId)
    {
        var expectedLatencyMs = (long)Math.Round(decision.ExpectedLatencyMs);
        var expectedCost = Math.Round(decision.ExpectedCost, 9);
        var deadlineMs = DeadlineMs(expectedLatencyMs);
        writer.WriteStartObject();
        writer.WriteString("version", "1");
        writer.WriteString("assignment_id", assignmentId);
        writer.WriteString("request_id", request.RequestId);
        writer.WriteString("tenant_id", request.TenantId);
        if (request.TraceId is not null)
        {
            writer.WriteString("trace_id", request.TraceId);
        }
        writer.WriteString("policy_id", decision.PolicyId);

        writer.WriteStartObject("executor");
        writer.WriteString("provider_id", decision.ProviderId);
        writer.WriteString("channel", "nats");
        writer.WriteEndObject();

        writer.WriteStartObject("job");
        writer.WriteString("type", request.TaskType);
        WritePayload(writer, request);
        writer.WriteEndObject();

        writer.WriteStartObject("options");
        writer.WriteNumber("priority", decision.Priority);
        writer.WriteNumber("deadline_ms", deadlineMs);
        writer.WriteStartObject("retry");
        writer.WriteNumber("max_attempts", 2);
        writer.WriteNumber("backoff_ms", 200);
        writer.WriteEndObject();
        writer.WriteEndObject();

        writer.WriteStartObject("correlation");
        if (request.TraceId is not null)
        {
            writer.WriteString("trace_id", request.TraceId);
        }
        writer.WriteEndObject();

        writer.WriteStartObject("decision");
        writer.WriteString("provider_id", decision.ProviderId);
        writer.WriteNumber("priority", decision.Priority);
        writer.WriteNumber("expected_latency_ms", expectedLatencyMs);
        writer.WriteNumber("expected_cost", expectedCost);
        writer.WriteString("reason", decision.Reason);
        writer.WriteEndObject();

        WriteMap(writer, "metadata", request.Metadata);
        WriteMap(writer, "context", request.Context);
        writer.WriteEndObject();
        return deadlineMs;
    }

    /// <summary>
    /// The worker's deadline, as the CP1 router computes it: five times the expected latency,
    /// at least 5 s and at most 60 s.
    /// </summary>
    internal static long DeadlineMs(long expectedLatencyMs) => Math.Clamp(expectedLatencyMs * 5, 5_000, 60_000);

    private static void WritePayload(Utf8JsonWriter writer, DecideRequest request)
    {
        var payload = request.Payload.Span;
        switch (request.PayloadEncoding)
        {
            case PayloadEncoding.Json:
                writer.WritePropertyName("payload");
                writer.WriteRawValue(payload, skipInputValidation: true);
                break;
            case PayloadEncoding.Base64:
                writer.WriteBase64String("payload_base64", payload);
                break;
            case PayloadEncoding.JsonString or PayloadEncoding.Text:
                writer.WriteString("payload", payload);
                break;
            default:
                writer.WriteNull("payload");
                break;
        }
    }

    private static void WriteMap(Utf8JsonWriter writer, string name, IReadOnlyDictionary<string, string> map)
    {
        writer.WriteStartObject(name);
        foreach (var (key, value) in map)
        {
            writer.WriteString(key, value);
        }
        writer.WriteEndObject();
    }
}
