using Beamline.Cp1;
using Beamline.Pipeline;
using Beamline.Pipeline.Admission;
using Beamline.Tenancy;
using Beamline.Tenancy.Quotas;

namespace Beamline.Host.Routing;

/// <summary>A caller that authenticated with an API key: its principal goes to the quota gate.</summary>
internal sealed class KeyCaller : Caller
{
    /// <summary>The API key's principal.</summary>
    public required TenantPrincipal Principal { get; init; }

    /// <summary>The pipeline's view of <paramref name="principal"/>.</summary>
    public static KeyCaller From(TenantPrincipal principal) => new()
    {
        TenantId = principal.TenantId,
        KeyId = principal.KeyId,
        TeamId = principal.TeamId,
        AllowedProviders = principal.Limits.AllowedProviders,
        AllowedPolicies = principal.Limits.AllowedPolicies,
        Principal = principal,
    };
}

/// <summary>
/// The admit stage over tenancy's quota gate: an API key's caller is charged at the key, team and
/// tenant levels; the trusted NATS bus at the tenant level alone.
/// </summary>
internal sealed class QuotaAdmission(QuotaGate quotas) : IAdmission
{
    public AdmissionLease Enter(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var lease = caller is KeyCaller key ? quotas.Enter(key.Principal) : quotas.EnterTenant(caller.TenantId);
        return lease.IsAdmitted ? AdmissionLease.Admitted(lease) : AdmissionLease.Refused(lease.Refusal.Message, lease.Refusal.RetryAfterSeconds);
    }
}

/// <summary>CP1 decide requests (task, message and hybrid forms) as the pipeline's request.</summary>
internal static class Cp1PipelineRequests
{
    /// <summary>
    /// The pipeline request of a CP1 <paramref name="request"/>. <paramref name="principal"/> is the
    /// API key's over HTTP; on the NATS bus (null) the caller is the tenant with its own limits.
    /// </summary>
    public static PipelineRequest From(DecideRequest request, TenantPrincipal? principal, ITenantDirectory directory, string face)
    {
        Caller caller = principal is not null
            ? KeyCaller.From(principal)
            : new Caller
            {
                TenantId = request.TenantId,
                AllowedProviders = directory.TryGetTenant(request.TenantId, out var tenant) ? tenant.Limits.AllowedProviders : null,
            };
        var metadata = new Dictionary<string, string>(request.Metadata.Count + 2, StringComparer.Ordinal);
        foreach (var (key, value) in request.Metadata)
        {
            metadata[key] = value;
        }
        return new PipelineRequest
        {
            Caller = caller,
            RequestId = request.RequestId,
            TraceId = request.TraceId,
            PolicyId = request.PolicyId,
            MessageType = request.TaskType,
            Payload = request.Payload,
            PayloadKind = request.PayloadEncoding switch
            {
                PayloadEncoding.Json or PayloadEncoding.JsonString => PayloadKind.Json,
                PayloadEncoding.Text => PayloadKind.Text,
                PayloadEncoding.Base64 => PayloadKind.Binary,
                _ => PayloadKind.None,
            },
            Metadata = metadata,
            SessionId = request.SessionId,
            UserId = request.UserId,
            Context = request.Context,
            MaxCost = request.MaxCost,
            MaxLatencyMs = request.MaxLatencyMs,
            Face = face,
        };
    }
}
