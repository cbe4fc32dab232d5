using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Routing;
using Beamline.Tenancy;
using Beamline.Tenancy.Quotas;

namespace Beamline.Host.Routing;

/// <summary>
/// One CP1 decide, transport aside: decode, check the caller may act for the tenant, reserve its
/// quota, decide, optionally push the ExecAssignment, write the reply. Synchronous and fast (no
/// I/O but a buffered NATS publish), so that the NATS handler can run it on the client's delivery
/// thread.
/// </summary>
internal sealed class DecideProcessor(RoutingService routing, AssignmentPublisher publisher, QuotaGate quotas, ITenantDirectory directory,
    DecisionStore decisions)
{
    // The reply metadata of a decide without a push: the same for every decide of this process,
    // so it is built once (the decision store keeps a reference to it).
    private readonly KeyValuePair<string, string>[] _instanceOnly = [new("instance_id", routing.InstanceId)];

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
        if (request.PushAssignment && publisher.Refuse(request) is { } refusedPush)
        {
            DecideCodec.WriteError(writer, refusedPush, request.RequestId, request.TraceId);
            return refusedPush.HttpStatus;
        }
        var lease = EnterQuota(principal, request);
        if (!lease.IsAdmitted)
        {
            return WriteQuotaExceeded(writer, lease.Refusal, request);
        }
        // A published assignment keeps the slots (the tracker gives them back); anything else gives them back here.
        var published = false;
        try
        {
            return Decide(principal, request, lease, writer, out published);
        }
        finally
        {
            if (!published)
            {
                lease.Dispose();
            }
        }
    }

    private int Decide(TenantPrincipal? principal, DecideRequest request, QuotaLease lease, Utf8JsonWriter writer, out bool published)
    {
        published = false;
        var decision = routing.Decide(ToRouteRequest(principal, request));
        if (!decision.IsSuccess)
        {
            DecideCodec.WriteDecision(writer, decision, request.RequestId, request.TraceId);
            return Cp1ErrorCodes.HttpStatus(decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed);
        }
        KeyValuePair<string, string>[] extra;
        if (request.PushAssignment)
        {
            var outcome = publisher.TryPublish(request, decision, lease);
            if (outcome == AssignmentPublisher.Outcome.TooLarge)
            {
                // Nothing was sent: the decision is not used, so its breaker trial slot goes back too.
                routing.ReleaseTrial(request.TenantId, decision.PolicyId, decision.ProviderId!);
                var error = new Cp1Error(Cp1ErrorCodes.InvalidRequest, "the assignment is larger than the NATS server's max_payload",
                    request.Form == DecideRequestForm.Message ? "message.payload" : "task.payload", Cp1ErrorTypes.TooLarge);
                DecideCodec.WriteError(writer, error, request.RequestId, request.TraceId);
                return error.HttpStatus;
            }
            published = outcome == AssignmentPublisher.Outcome.Published;
            extra = [new("instance_id", routing.InstanceId), new("assignment", published ? AssignmentPublished : AssignmentNotConfigured)];
        }
        else
        {
            extra = _instanceOnly;
        }
        DecideCodec.WriteOk(writer, decision, request.RequestId, request.TraceId, extra);
        decisions.Add(request, decision, extra);
        return 200;
    }

    /// <summary>Writes an <c>unauthorized</c> reply (no or a bad API key).</summary>
    public static int WriteUnauthorized(Utf8JsonWriter writer, string message)
    {
        DecideCodec.WriteError(writer, new Cp1Error(Cp1ErrorCodes.Unauthorized, message), null, null);
        return 401;
    }

    /// <summary>
    /// Reserves the request's quota: the key, team and tenant levels for an API key, the tenant
    /// level alone on the NATS bus. A refused request must not reach the router.
    /// </summary>
    internal QuotaLease EnterQuota(TenantPrincipal? principal, DecideRequest request)
        => principal is not null ? quotas.Enter(principal) : quotas.EnterTenant(request.TenantId);

    /// <summary>Writes the CP1 error <c>quota_exceeded</c> (429) with <c>details.retry_after_seconds</c>.</summary>
    internal static int WriteQuotaExceeded(Utf8JsonWriter writer, in QuotaRefusal refusal, DecideRequest request)
    {
        var error = new Cp1Error(Cp1ErrorCodes.QuotaExceeded, refusal.Message) { RetryAfterSeconds = refusal.RetryAfterSeconds };
        DecideCodec.WriteError(writer, error, request.RequestId, request.TraceId);
        return error.HttpStatus;
    }

    /// <summary>
    /// The router's view of the request, limited to the providers the caller may use: the key's
    /// effective <c>allowed_providers</c>, or on the NATS bus the tenant's.
    /// </summary>
    internal RouteRequest ToRouteRequest(TenantPrincipal? principal, DecideRequest request)
    {
        var allowed = principal is not null ? principal.Limits.AllowedProviders
            : directory.TryGetTenant(request.TenantId, out var tenant) ? tenant.Limits.AllowedProviders : null;
        return request.ToRouteRequest() with { AllowedProviders = allowed };
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
