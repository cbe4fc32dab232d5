using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Interop.Nats;
using Beamline.Routing;

namespace Beamline.Host.Routing;

/// <summary>
/// Publishes the CP1 ExecAssignment of a decision (<c>push_assignment: true</c>) on the request's
/// <c>assignment_subject</c>, through the NATS connection that <see cref="NatsDecideService"/>
/// holds. Without one (no <c>Beamline:Nats:Url</c>) nothing is published and the decision says so.
/// </summary>
internal sealed class AssignmentPublisher
{
    private NatsConnection? _connection;

    public NatsConnection? Connection
    {
        get => Volatile.Read(ref _connection);
        set => Volatile.Write(ref _connection, value);
    }

    /// <summary>Publishes; false when there is no connection. A buffered publish: it does not wait for the server.</summary>
    public bool TryPublish(DecideRequest request, in RouteDecision decision)
    {
        if (Connection is not { } connection)
        {
            return false;
        }
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, request, decision);
        }
        connection.Publish(request.AssignmentSubject, buffer.WrittenSpan);
        return true;
    }

    /// <summary>
    /// <c>{version, assignment_id, request_id, tenant_id, trace_id?, provider_id, policy_id, priority,
    /// expected_latency_ms, expected_cost, job{type, payload}, metadata{}, context{}}</c>.
    /// </summary>
    internal static void Write(Utf8JsonWriter writer, DecideRequest request, in RouteDecision decision)
    {
        writer.WriteStartObject();
        writer.WriteString("version", "1");
        writer.WriteString("assignment_id", Guid.CreateVersion7().ToString("N"));
        writer.WriteString("request_id", request.RequestId);
        writer.WriteString("tenant_id", request.TenantId);
        if (request.TraceId is not null)
        {
            writer.WriteString("trace_id", request.TraceId);
        }
        writer.WriteString("provider_id", decision.ProviderId);
        writer.WriteString("policy_id", decision.PolicyId);
        writer.WriteNumber("priority", decision.Priority);
        writer.WriteNumber("expected_latency_ms", (long)Math.Round(decision.ExpectedLatencyMs));
        writer.WriteNumber("expected_cost", Math.Round(decision.ExpectedCost, 9));
        writer.WriteStartObject("job");
        writer.WriteString("type", request.TaskType);
        var payload = request.Payload.Span;
        switch (request.PayloadEncoding)
        {
            case PayloadEncoding.Json:
                writer.WritePropertyName("payload");
                writer.WriteRawValue(payload, skipInputValidation: true);
                break;
            case PayloadEncoding.Base64:
                writer.WriteBase64String("payload", payload);
                break;
            case PayloadEncoding.JsonString or PayloadEncoding.Text:
                writer.WriteString("payload", payload);
                break;
            default:
                writer.WriteNull("payload");
                break;
        }
        writer.WriteEndObject();
        WriteMap(writer, "metadata", request.Metadata);
        WriteMap(writer, "context", request.Context);
        writer.WriteEndObject();
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
