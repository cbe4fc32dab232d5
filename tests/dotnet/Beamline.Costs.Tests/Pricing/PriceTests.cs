using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Costs.Tests.Pricing;

public sealed class PriceTests
{
    private readonly CostMeter _meter = new();

    [Fact]
    public void Price_InputAndOutput_IsExactInNanos()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 2.50m, output: 10m));

        // 1,000 × $2.50/M + 500 × $10/M = $0.0025 + $0.005.
        Assert.Equal(7_500_000, _meter.Price(provider, "gpt-4o", new TokenUsage(1000, 500)));
    }

    [Fact]
    public void Price_CachedInput_IsChargedAtTheCachedPrice()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 2.50m, output: 10m, cached: 1.25m));

        // 600 × $2.50/M + 400 × $1.25/M = $0.0015 + $0.0005.
        Assert.Equal(2_000_000, _meter.Price(provider, null, new TokenUsage(1000, 0, CachedInputTokens: 400)));
    }

    [Fact]
    public void Price_CachedInputWithoutACachedPrice_IsChargedAsInput()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 3m, output: 15m));

        Assert.Equal(3_000_000, _meter.Price(provider, null, new TokenUsage(1000, 0, CachedInputTokens: 400)));
    }

    [Fact]
    public void Price_PerRequestFee_IsAddedWhateverTheTokens()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 1m, perRequest: 0.001m));

        Assert.Equal(1_000_000, _meter.Price(provider, null, default));
        Assert.Equal(1_002_000, _meter.Price(provider, null, new TokenUsage(1, 1))); // $1/M is 1,000 nanos a token
    }

    [Fact]
    public void Price_FractionOfANano_IsRoundedUpOnceForTheWholeCall()
    {
        // $0.00015/M is 0.15 nano-dollars a token: 1 token costs 1 nano (rounded up), 10 tokens 2, 20 tokens exactly 3.
        var provider = Requests.Provider(Requests.Pricing(input: 0.00015m, output: 0.00015m));

        Assert.Equal(1, _meter.Price(provider, null, new TokenUsage(1, 0)));
        Assert.Equal(2, _meter.Price(provider, null, new TokenUsage(5, 5)));
        Assert.Equal(3, _meter.Price(provider, null, new TokenUsage(10, 10)));
        Assert.Equal(0, _meter.Price(Requests.Provider(ProviderPricing.None), null, new TokenUsage(1000, 1000)));
    }

    [Fact]
    public void Price_PriceFinerThanAnAttoDollarAToken_IsRoundedUpNotLost()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 0.0000000000001m, output: 0));

        Assert.Equal(1, _meter.Price(provider, null, new TokenUsage(1, 0)));
    }

    [Fact]
    public void Price_ModelPricedApart_UsesItsPrice()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 2m, models: ("gpt-4o-mini", new ModelPrice(0.15m, 0.60m))));

        Assert.Equal(750_000, _meter.Price(provider, "gpt-4o-mini", new TokenUsage(1_000, 1_000)));
        Assert.Equal(3_000_000, _meter.Price(provider, "gpt-4o", new TokenUsage(1_000, 1_000)));
    }

    [Fact]
    public void Price_HugeUsage_SaturatesInsteadOfWrapping()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1_000_000m, output: 1_000_000m));

        Assert.Equal(long.MaxValue, _meter.Price(provider, null, new TokenUsage(long.MaxValue / 2, long.MaxValue / 2)));
    }

    [Fact]
    public void Price_SamePrices_AgreeWithDecimalArithmetic()
    {
        var prices = new[] { 0m, 0.1m, 0.15m, 0.6m, 1.25m, 2.5m, 3m, 10m, 15m, 75m, 0.0375m };
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var (input, output, cached) = (prices[random.Next(prices.Length)], prices[random.Next(prices.Length)], prices[random.Next(prices.Length)]);
            var usage = new TokenUsage(random.Next(0, 2_000_000), random.Next(0, 200_000), 0);
            usage = usage with { CachedInputTokens = random.Next(0, (int)usage.InputTokens + 1) };
            var exact = (((usage.InputTokens - usage.CachedInputTokens) * input) + (usage.CachedInputTokens * cached) + (usage.OutputTokens * output)) / 1_000_000m;

            var nanos = _meter.Price(Requests.Provider(Requests.Pricing(input, output, cached)), null, usage);

            Assert.Equal(Nanos.FromUsd(exact), nanos);
        }
    }
}
