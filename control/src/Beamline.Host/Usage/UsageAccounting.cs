using System.Diagnostics;
using Beamline.Accounting.Ledger;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;

namespace Beamline.Host.Usage;

/// <summary>
/// The pipeline's accounting into the usage ledger: every execute that reached a provider is one
/// usage record (tokens and cost of the answering call, or of what streamed before a failure;
/// zero for a call that failed). Decides call no provider and are not recorded.
/// </summary>
internal sealed class UsageAccounting(UsageLedger ledger, TimeProvider time) : IRequestAccounting
{
    public void Decided(PipelineRequest request, DecideResult result)
    {
    }

    public void Executed(PipelineRequest request, ExecuteResult result)
    {
        if (result.Attempts.Count == 0 && result.ProviderId is null)
        {
            return; // refused before any provider: nothing was used
        }
        var usage = result.Usage ?? default;
        ledger.Record(new UsageRecord
        {
            Time = time.GetUtcNow(),
            TenantId = request.TenantId,
            TeamId = request.Caller.TeamId,
            KeyId = request.Caller.KeyId,
            RequestId = request.RequestId,
            ProviderId = result.ProviderId ?? result.Attempts[^1].ProviderId,
            Model = result.Model,
            InputTokens = usage.InputTokens,
            OutputTokens = usage.OutputTokens,
            CachedInputTokens = usage.CachedInputTokens,
            Estimated = usage.Estimated,
            CostNanos = result.CostNanos,
            Status = result.Error?.Code ?? UsageRecord.Ok,
            Face = request.Face,
            LatencyMs = Stopwatch.GetElapsedTime(request.StartedAt).TotalMilliseconds,
        });
    }
}
