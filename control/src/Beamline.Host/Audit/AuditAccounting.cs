using Beamline.Audit;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;

namespace Beamline.Host.Audit;

/// <summary>
/// Every decision and every execution into the audit chain: who asked (tenant, key), what was
/// decided or answered (policy, provider, status, cost, tokens) and SHA-256 hashes of the request
/// and the answer — never the bodies. Appending queues; the chain's writer batches the fsyncs.
/// </summary>
internal sealed class AuditAccounting(IAuditLog audit, TimeProvider time) : IRequestAccounting
{
    public void Decided(PipelineRequest request, DecideResult result) => audit.Append(new AuditRecord
    {
        Time = time.GetUtcNow(),
        Kind = AuditKinds.Decision,
        TenantId = request.TenantId,
        KeyId = request.Caller.KeyId,
        RequestId = request.RequestId,
        ProviderId = result.Decision.ProviderId,
        PolicyId = result.Decision.PolicyId ?? request.PolicyId,
        Status = result.Error?.Code ?? "ok",
        RequestSha256 = request.Payload.IsEmpty ? null : AuditHash.Sha256Hex(request.Payload.Span),
    });

    public void Executed(PipelineRequest request, ExecuteResult result)
    {
        var usage = result.Usage ?? default;
        audit.Append(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Kind = AuditKinds.Execution,
            TenantId = request.TenantId,
            KeyId = request.Caller.KeyId,
            RequestId = request.RequestId,
            ProviderId = result.ProviderId ?? (result.Attempts.Count == 0 ? null : result.Attempts[^1].ProviderId),
            PolicyId = result.PolicyId ?? request.PolicyId,
            Status = result.Error?.Code ?? "ok",
            CostNanos = result.CostNanos,
            InputTokens = usage.InputTokens,
            OutputTokens = usage.OutputTokens,
            RequestSha256 = request.Payload.IsEmpty ? null : AuditHash.Sha256Hex(request.Payload.Span),
            ResponseSha256 = result.StreamSha256 is { } streamed ? Convert.ToHexStringLower(streamed)
                : result.IsSuccess && !result.Output.IsEmpty ? AuditHash.Sha256Hex(result.Output.Span) : null,
        });
    }
}
