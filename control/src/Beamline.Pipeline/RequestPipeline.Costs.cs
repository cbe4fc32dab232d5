using System.Security.Cryptography;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Providers;
using Beamline.Routing.Catalog;

namespace Beamline.Pipeline;

/// <summary>
/// Cost and budgets: before each provider call its largest cost is reserved at every budget level
/// (or the call is refused); after it the reservation is settled to what the call used, or given
/// back when it failed. A stream is metered as it passes, and ended cleanly when it runs past
/// what it reserved.
/// </summary>
public sealed partial class RequestPipeline
{
    /// <summary>The <c>details.reason</c> of a refusal by a budget (CP1 <c>quota_exceeded</c>).</summary>
    public const string BudgetReason = "budget";

    /// <summary>What one attempt reserved: nothing when no meter is registered (<see cref="Provider"/> null).</summary>
    private readonly record struct Charge(ProviderDescriptor? Provider, CostQuote Quote, BudgetHold Hold)
    {
        public bool IsMetered => Provider is not null;

        // Only a hold at a limited level reserves anything: an upstream that runs past it is cut off.
        public bool Limits => Hold.State is not null;
    }

    /// <summary>The usage and cost of the answering call (none without a meter).</summary>
    private readonly record struct Spent(TokenUsage? Usage, long CostNanos, string? Model);

    /// <summary>Reserves the call's largest cost; a refusal ends the request (<c>quota_exceeded</c>, reason budget).</summary>
    private Charge Reserve(PipelineRequest request, ProviderDescriptor provider, out Cp1Error? refusal)
    {
        refusal = null;
        if (_costs is null)
        {
            return default;
        }
        // The prompt is counted only when a budget needs it (or it already was, for routing).
        var quote = _costs.Quote(request, provider, countPrompt: _budgets.IsLimited(request.Caller));
        var hold = _budgets.Reserve(request.Caller, quote.MaxCostNanos, quote.MaxTokens);
        if (!hold.IsGranted)
        {
            refusal = BudgetError(hold.Refusal!);
            return default;
        }
        return new Charge(provider, quote, hold);
    }

    /// <summary>A whole answer: its usage (reported, else counted), priced and settled.</summary>
    private Spent Settle(in Charge charge, PipelineRequest request, in ProviderAnswer answer)
    {
        if (!charge.IsMetered)
        {
            return default;
        }
        var usage = _costs!.Measure(request, charge.Quote, answer.Format, answer.Output.Span);
        return Settle(charge, usage);
    }

    private Spent Settle(in Charge charge, in TokenUsage usage)
    {
        if (!charge.IsMetered)
        {
            return default;
        }
        var cost = _costs!.Price(charge.Provider!, charge.Quote.Model, usage);
        _budgets.Settle(charge.Hold, cost, usage.Total);
        return new Spent(usage, cost, charge.Quote.Model);
    }

    /// <summary>
    /// A request its caller abandoned (the client went away, the control plane stops): nobody gets
    /// its result, but what it was charged is accounted (usage ledger, audit, metrics) as <c>cancelled</c>.
    /// </summary>
    private void Abandoned(PipelineRequest request, List<ProviderAttempt> attempts, in Spent spent = default, string? providerId = null)
    {
        if (attempts.Count == 0 && spent.Usage is null)
        {
            return; // no provider was reached: nothing to account
        }
        var result = new ExecuteResult
        {
            Error = new Cp1Error(AbandonedCode, "the caller went away before the answer"),
            ProviderId = providerId ?? (attempts.Count == 0 ? null : attempts[^1].ProviderId),
            Attempts = attempts,
        };
        if (spent.Usage is not null)
        {
            result.Charged(spent.Usage, spent.CostNanos, spent.Model);
        }
        Final(request, result);
    }

    /// <summary>The status an abandoned request is accounted with.</summary>
    public const string AbandonedCode = "cancelled";

    /// <summary>A call that failed (or was never made) costs nothing: its reservation goes back.</summary>
    private void Release(in Charge charge)
    {
        if (charge.IsMetered)
        {
            _budgets.Release(charge.Hold);
        }
    }

    /// <summary>A decide reserves nothing, but a budget already spent refuses it.</summary>
    private Cp1Error? CheckBudget(PipelineRequest request)
        => _costs is not null && _budgets.Check(request.Caller) is { } refusal ? BudgetError(refusal) : null;

    /// <summary>
    /// The prompt is counted before routing when routing prices providers (<c>cheapest</c>,
    /// <c>max_cost</c>); <paramref name="policy"/> is the one the caller already looked up.
    /// </summary>
    private void CountPromptForRouting(PipelineRequest request, Beamline.Policies.Policy? policy)
    {
        if (_costs is not null && (request.MaxCost is not null || policy?.Strategy == Beamline.Policies.RoutingStrategy.Cheapest))
        {
            _costs.CountPromptTokens(request);
        }
    }

    /// <summary>Whether <paramref name="error"/> is a budget's refusal (<c>quota_exceeded</c> with <c>details.reason: "budget"</c>).</summary>
    public static bool IsBudgetRefusal(Cp1Error error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error.Code == Cp1ErrorCodes.QuotaExceeded && error.Details is { ValueKind: JsonValueKind.Object } details
            && details.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String && reason.ValueEquals(BudgetReason);
    }

    private static Cp1Error BudgetError(BudgetRefusal refusal)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("reason", BudgetReason);
            writer.WriteString("level", refusal.Level);
            writer.WriteString("id", refusal.Id);
            writer.WriteString("limit", refusal.Limit);
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var details = document.RootElement.Clone();
        return new Cp1Error(Cp1ErrorCodes.QuotaExceeded, refusal.Message) { RetryAfterSeconds = refusal.RetryAfterSeconds, Details = details };
    }

    /// <summary>Hashes a streamed answer as it is passed on, when something accounts for it.</summary>
    private IncrementalHash? BeginStreamHash() => _accounting.Length == 0 ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
}
