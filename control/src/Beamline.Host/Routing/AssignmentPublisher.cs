using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Beamline.Cp1;
using Beamline.Routing;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

/// <summary>
/// Publishes the CP1 ExecAssignment of a decision (<c>push_assignment: true</c>) on the request's
/// <c>assignment_subject</c> on the control plane's NATS connection. Without one (no
/// <c>Beamline:Nats:Url</c>) or while NATS is down nothing is published and the decision says so.
/// </summary>
internal sealed partial class AssignmentPublisher(ILogger<AssignmentPublisher> logger, INatsConnection? connection = null)
{
    /// <summary>
    /// Publishes; false when there is no open connection. The publish is written to the
    /// connection's buffer (it does not wait for the server).
    /// </summary>
    public bool TryPublish(DecideRequest request, in RouteDecision decision)
    {
        if (connection is not { ConnectionState: NatsConnectionState.Open })
        {
            return false;
        }
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, request, decision);
        }
        var subject = request.AssignmentSubject;
        var publish = connection.PublishAsync(subject, buffer.WrittenMemory);
        if (!publish.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(publish, subject);
        }
        return true;
    }

    private async Task ObserveAsync(ValueTask publish, string subject)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
        {
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
    internal static void Write(Utf8JsonWriter writer, DecideRequest request, in RouteDecision decision)
    {
        var expectedLatencyMs = (long)Math.Round(decision.ExpectedLatencyMs);
        var expectedCost = Math.Round(decision.ExpectedCost, 9);
        writer.WriteStartObject();
        writer.WriteString("version", "1");
        writer.WriteString("assignment_id", Guid.NewGuid().ToString("D"));
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
        writer.WriteNumber("deadline_ms", DeadlineMs(expectedLatencyMs));
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
