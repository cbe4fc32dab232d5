using System.Collections.Immutable;
using Beamline.Accounting.Reports;
using Beamline.Routing.Catalog;

namespace Beamline.Accounting.Tests.Reports;

/// <summary>The suggestion rule: cheaper, quality within 0.05, latency within 1.25×, error rate within 2 points, priced.</summary>
public sealed class ProviderSuggestionsTests
{
    private const long Usd = 1_000_000_000;

    // 1M input (200k cached), 100k output at "dear": 0.8 × 10 + 0.2 × 5 + 0.1 × 30 = 12 USD.
    private static readonly ProviderModelUsage DearTraffic = new("dear", "large", 10, 1_000_000, 100_000, 200_000, 12 * Usd);

    private static readonly ProviderProfile[] Providers =
    [
        Profile("dear", 10, 30, quality: 0.9, latency: 1000, errors: 0.01, cached: 5),
        Profile("cheap_good", 1, 2, quality: 0.86, latency: 1200, errors: 0.02),          // 1 + 0.2 = 1.2 USD
        Profile("cheap_edge", 2, 4, quality: 0.85, latency: 1250, errors: 0.03),          // at every limit: 2 + 0.4 = 2.4 USD
        Profile("worse_quality", 0.1m, 0.2m, quality: 0.84, latency: 500, errors: 0),
        Profile("slower", 0.5m, 1, quality: 0.95, latency: 1251, errors: 0),
        Profile("flaky", 0.5m, 1, quality: 0.95, latency: 900, errors: 0.031),
        new ProviderProfile("unpriced", ProviderPricing.None, "free", 0.99, 100, 0),
    ];

    [Fact]
    public void Suggest_TheCheapestSimilarProvider_WithTheSaving()
    {
        var suggestion = Assert.Single(ProviderSuggestions.Suggest([DearTraffic], Providers));

        Assert.Equal(("dear", "large", "cheap_good", "cheap_good-model"), (suggestion.ProviderId, suggestion.Model, suggestion.SuggestedProviderId, suggestion.SuggestedModel));
        Assert.Equal(1_200_000_000, suggestion.EstimatedCostNanos);
        Assert.Equal(10_800_000_000, suggestion.EstimatedSavingNanos);
        Assert.Equal((0.9, 0.86, 1000.0, 1200.0), (suggestion.QualityScore, suggestion.SuggestedQualityScore, suggestion.LatencyMs, suggestion.SuggestedLatencyMs));
    }

    [Fact]
    public void Suggest_OnlyProvidersTheTenantMayUse()
    {
        var suggestion = Assert.Single(ProviderSuggestions.Suggest([DearTraffic], Providers, id => id != "cheap_good"));

        Assert.Equal("cheap_edge", suggestion.SuggestedProviderId); // every limit is inclusive
        Assert.Equal(9_600_000_000, suggestion.EstimatedSavingNanos);
    }

    [Fact]
    public void Suggest_NothingWhenNoCandidateIsSimilarOrCheaper()
    {
        Assert.Empty(ProviderSuggestions.Suggest([DearTraffic], Providers, id => id is "dear" or "worse_quality" or "slower" or "flaky" or "unpriced"));
        // Already on the cheapest similar provider; free traffic; a provider no longer configured.
        Assert.Empty(ProviderSuggestions.Suggest(
            [new ProviderModelUsage("worse_quality", null, 1, 1_000_000, 0, 0, Usd / 10), DearTraffic with { CostNanos = 0 }, DearTraffic with { ProviderId = "gone" }],
            Providers));
    }

    [Fact]
    public void Suggest_UsesTheCandidatesModelPriceAndSortsBySaving()
    {
        var modelPriced = new ProviderProfile("per_model", new ProviderPricing
        {
            Default = new ModelPrice(100, 100),
            Models = ImmutableDictionary<string, ModelPrice>.Empty.Add("tiny", new ModelPrice(0.5m, 0.5m, PerRequest: 0.01m)),
        }, "tiny", 0.9, 1000, 0.01);
        var small = new ProviderModelUsage("dear", "small", 100, 100_000, 10_000, 0, 2 * Usd);

        var suggestions = ProviderSuggestions.Suggest([small, DearTraffic], [.. Providers, modelPriced], id => id is "dear" or "per_model");

        // large: 1M × 0.5 + 0.1M × 0.5 + 10 × 0.01 = 0.65 USD; small: 0.05 + 0.005 + 1.00 = 1.055 USD.
        Assert.Equal(["large", "small"], suggestions.Select(s => s.Model));
        Assert.Equal([650_000_000L, 1_055_000_000L], suggestions.Select(s => s.EstimatedCostNanos));
        Assert.All(suggestions, s => Assert.Equal("tiny", s.SuggestedModel));
    }

    private static ProviderProfile Profile(string id, decimal input, decimal output, double quality, double latency, double errors, decimal? cached = null)
        => new(id, new ProviderPricing { Default = new ModelPrice(input, output, cached) }, id + "-model", quality, latency, errors);
}
