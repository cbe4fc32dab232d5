using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Routing;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// One CP1 decide, transport aside: decode, check the caller may act for the tenant, decide,
/// optionally push the ExecAssignment, write the reply. Synchronous and fast (no I/O but a
/// buffered NATS publish), so that the NATS handler can run it on the client's delivery thread.
/// </summary>
internal sealed class DecideProcessor(RoutingService routing, AssignmentPublisher publisher)
{
    /// <summary>Metadata <c>assignment</c> when the ExecAssignment was published.</summary>
    public const string AssignmentPublished = "published";

    /// <summary>Metadata <c>assignment</c> when no NATS connection exists to publish it on.</summary>
    public const string AssignmentNotConfigured = "not_published: NATS is not configured (Beamline:Nats:Url)";

    /// <summary>
    /// Decides and writes the CP1 reply to <paramref name="writer"/>; returns its HTTP status.
    /// <paramref name="principal"/> is the API key's principal over HTTP, null on the trusted NATS
    /// bus, where the body's <c>tenant_id</c> must only name a known tenant.
    /// </summary>
    public int Process(ReadOnlySpan<byte> body, TenantPrincipal? principal, Utf8JsonWriter writer, int maxRequestBytes)
    {
        var parsed = DecideCodec.Parse(body, maxRequestBytes);
        if (parsed.Request is not { } request)
        {
            DecideCodec.WriteError(writer, parsed);
            return parsed.Error?.HttpStatus ?? 400;
        }
        if (principal is not null && Refuse(principal, request) is { } refusal)
        {
            DecideCodec.WriteError(writer, refusal, request.RequestId, request.TraceId);
            return refusal.HttpStatus;
        }

        var decision = routing.Decide(request.ToRouteRequest());
        if (!decision.IsSuccess)
        {
            DecideCodec.WriteDecision(writer, decision, request.RequestId, request.TraceId);
            return Cp1ErrorCodes.HttpStatus(decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed);
        }
        if (request.PushAssignment)
        {
            var assignment = publisher.TryPublish(request, decision) ? AssignmentPublished : AssignmentNotConfigured;
            DecideCodec.WriteOk(writer, decision, request.RequestId, request.TraceId,
                [new("instance_id", routing.InstanceId), new("assignment", assignment)]);
        }
        else
        {
            DecideCodec.WriteOk(writer, decision, request.RequestId, request.TraceId, [new("instance_id", routing.InstanceId)]);
        }
        return 200;
    }

    /// <summary>Writes an <c>unauthorized</c> reply (no or a bad API key).</summary>
    public static int WriteUnauthorized(Utf8JsonWriter writer, string message)
    {
        DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Unauthorized, message), null, null);
        return 401;
    }

    // A valid key acting for another tenant, or for a policy outside its allow-list, is
    // authenticated but not allowed: CP1 `denied` (403), not `unauthorized`.
    internal Cp1Error? Refuse(TenantPrincipal principal, DecideRequest request)
    {
        if (!string.Equals(request.TenantId, principal.TenantId, StringComparison.Ordinal))
        {
            return new Cp1Error(Cp1ErrorCodes.Denied, "the API key does not belong to this tenant_id", "tenant_id", Cp1ErrorTypes.InvalidValue);
        }
        if (principal.Limits.AllowedPolicies is { } allowed)
        {
            var policyId = routing.EffectivePolicyId(request.TenantId, request.PolicyId);
            if (!allowed.Contains(policyId))
            {
                return new Cp1Error(Cp1ErrorCodes.Denied, $"the API key may not use policy '{policyId}'", "policy_id", Cp1ErrorTypes.InvalidValue);
            }
        }
        return null;
    }
}

/// <summary>A reusable per-thread buffer and writer for replies built on a NATS delivery thread.</summary>
internal static class ReplyBuffers
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer) Rent()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        return (buffer, writer);
    }
}
