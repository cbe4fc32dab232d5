using System.Collections.Immutable;
using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Accounting.Reports;

/// <summary>What suggestions know of one provider: its prices and how it has been doing.</summary>
/// <param name="Id">The provider id.</param>
/// <param name="Pricing">Its prices (<see cref="ProviderDescriptor.Pricing"/>).</param>
/// <param name="DefaultModel">The model it is asked for by default (what a moved request would get).</param>
/// <param name="QualityScore">Its quality score (<see cref="ProviderDescriptor.QualityScore"/>).</param>
/// <param name="LatencyMs">Its observed latency: the router's moving average of successful calls (<see cref="ProviderStats.LatencyMs"/>), the baseline before any.</param>
/// <param name="ErrorRate">Its observed error rate (<see cref="ProviderStats.ErrorRate"/>).</param>
public sealed record ProviderProfile(string Id, ProviderPricing Pricing, string? DefaultModel, double QualityScore, double LatencyMs, double ErrorRate)
{
    /// <summary>The profile of a catalog entry, its statistics included.</summary>
    public static ProviderProfile Of(ProviderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var descriptor = entry.Descriptor;
        return new ProviderProfile(descriptor.Id, descriptor.Pricing, descriptor.DefaultModel, descriptor.QualityScore,
            entry.Stats.LatencyMs, entry.Stats.ErrorRate);
    }
}

/// <summary>A cheaper provider for part of a tenant's traffic.</summary>
/// <param name="ProviderId">The provider the traffic went to.</param>
/// <param name="Model">Its model, or null.</param>
/// <param name="CostNanos">What that traffic cost, in nano-dollars.</param>
/// <param name="SuggestedProviderId">The cheaper provider.</param>
/// <param name="SuggestedModel">The model it would be asked for.</param>
/// <param name="EstimatedCostNanos">The same tokens and requests at the suggested provider's prices.</param>
/// <param name="QualityScore">The current provider's quality score.</param>
/// <param name="SuggestedQualityScore">The suggested provider's.</param>
/// <param name="LatencyMs">The current provider's observed latency.</param>
/// <param name="SuggestedLatencyMs">The suggested provider's.</param>
public sealed record ProviderSuggestion(string ProviderId, string? Model, long CostNanos, string SuggestedProviderId, string? SuggestedModel,
    long EstimatedCostNanos, double QualityScore, double SuggestedQualityScore, double LatencyMs, double SuggestedLatencyMs)
{
    /// <summary>What moving the traffic would have saved in the period, in nano-dollars.</summary>
    public long EstimatedSavingNanos => CostNanos - EstimatedCostNanos;
}

/// <summary>
/// Names cheaper providers of similar observed quality and latency for a tenant's traffic. A pure
/// function of the period's usage by provider and model and the providers' profiles.
/// </summary>
/// <remarks>
/// The rule, for each (provider, model) the tenant spent on, whose provider has a profile: a
/// candidate is another provider that the tenant may use, that has prices configured (a missing
/// price is not a zero price), whose <see cref="ProviderProfile.QualityScore"/> is at least the
/// current one − <see cref="QualityTolerance"/>, whose observed latency is at most
/// <see cref="LatencyFactor"/> × the current one, and whose observed error rate is at most the
/// current one + <see cref="ErrorRateTolerance"/>. Its estimated cost is the same requests and
/// tokens (uncached input, cached input, output) at its default model's prices; it is suggested when
/// that saves at least <see cref="MinimumSavingFraction"/> of what the traffic cost. Of several, the
/// largest saving wins (then the higher quality, then the id). Suggestions are sorted by saving,
/// largest first. Latency is the router's moving average (<see cref="ProviderStats.LatencyMs"/>),
/// the figure it routes <c>fastest</c> by, standing in for a median.
/// </remarks>
public static class ProviderSuggestions
{
    /// <summary>How much lower a candidate's quality score may be.</summary>
    public const double QualityTolerance = 0.05;

    /// <summary>How many times the current latency a candidate's may be.</summary>
    public const double LatencyFactor = 1.25;

    /// <summary>How much higher a candidate's error rate may be.</summary>
    public const double ErrorRateTolerance = 0.02;

    /// <summary>The least saving worth a suggestion, as a fraction of the traffic's cost.</summary>
    public const decimal MinimumSavingFraction = 0.01m;

    // Scores are decimals written as doubles: 0.9 − 0.05 is a hair above 0.85, which must still pass.
    private const double Epsilon = 1e-9;

    /// <summary>
    /// The suggestions for <paramref name="usage"/> among <paramref name="providers"/>;
    /// <paramref name="allowed"/> (null: all) says which providers the tenant may be routed to.
    /// </summary>
    public static ImmutableArray<ProviderSuggestion> Suggest(IEnumerable<ProviderModelUsage> usage, IEnumerable<ProviderProfile> providers,
        Func<string, bool>? allowed = null)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(providers);
        var profiles = providers.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var suggestions = new List<ProviderSuggestion>();
        foreach (var line in usage)
        {
            if (line.CostNanos <= 0 || !profiles.TryGetValue(line.ProviderId, out var current))
            {
                continue;
            }
            ProviderSuggestion? best = null;
            foreach (var candidate in profiles.Values)
            {
                if (candidate.Id == current.Id || (allowed is not null && !allowed(candidate.Id)) || !IsSimilar(current, candidate))
                {
                    continue;
                }
                var price = candidate.Pricing.For(candidate.DefaultModel);
                if (ReferenceEquals(candidate.Pricing, ProviderPricing.None) || price.IsFree)
                {
                    continue;
                }
                var cost = Cost(price, line);
                if (line.CostNanos - cost < (decimal)line.CostNanos * MinimumSavingFraction || cost >= line.CostNanos)
                {
                    continue;
                }
                var suggestion = new ProviderSuggestion(line.ProviderId, line.Model, line.CostNanos, candidate.Id, candidate.DefaultModel, cost,
                    current.QualityScore, candidate.QualityScore, current.LatencyMs, candidate.LatencyMs);
                if (best is null || IsBetter(suggestion, best))
                {
                    best = suggestion;
                }
            }
            if (best is not null)
            {
                suggestions.Add(best);
            }
        }
        suggestions.Sort((a, b) => b.EstimatedSavingNanos.CompareTo(a.EstimatedSavingNanos) is var bySaving and not 0
            ? bySaving
            : string.CompareOrdinal(a.ProviderId, b.ProviderId) is var byProvider and not 0 ? byProvider : string.CompareOrdinal(a.Model, b.Model));
        return [.. suggestions];
    }

    /// <summary>What <paramref name="usage"/>'s requests and tokens cost at <paramref name="price"/>, in nano-dollars (rounded up).</summary>
    public static long Cost(ModelPrice price, ProviderModelUsage usage)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentNullException.ThrowIfNull(usage);
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var usd = (usage.InputTokens - cached) * price.InputPerMTok / 1_000_000m
            + cached * (price.CachedInputPerMTok ?? price.InputPerMTok) / 1_000_000m
            + usage.OutputTokens * price.OutputPerMTok / 1_000_000m
            + usage.Requests * price.PerRequest;
        return Nanos.FromUsd(usd);
    }

    private static bool IsSimilar(ProviderProfile current, ProviderProfile candidate)
        => candidate.QualityScore >= current.QualityScore - QualityTolerance - Epsilon
            && candidate.LatencyMs <= current.LatencyMs * LatencyFactor + Epsilon
            && candidate.ErrorRate <= current.ErrorRate + ErrorRateTolerance + Epsilon;

    private static bool IsBetter(ProviderSuggestion a, ProviderSuggestion b)
        => a.EstimatedCostNanos != b.EstimatedCostNanos ? a.EstimatedCostNanos < b.EstimatedCostNanos
            : a.SuggestedQualityScore != b.SuggestedQualityScore ? a.SuggestedQualityScore > b.SuggestedQualityScore
            : string.CompareOrdinal(a.SuggestedProviderId, b.SuggestedProviderId) < 0;
}
