using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Costs.Tests;

public sealed class QuoteTests
{
    private readonly CostMeter _meter = new();

    [Fact]
    public void Quote_ChatWithMaxTokens_PricesThePromptAndTheLimit()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 2.5m, output: 10m), null, "gpt-4o", "gpt-4o-mini");
        var request = Requests.Of(WireFormat.OpenAIChat, """{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hello world"}]}""",
            gatewayModel: "gpt-4o-mini");

        var quote = _meter.Quote(request, provider);

        Assert.Equal("gpt-4o-mini", quote.Model);
        Assert.Equal(_meter.CountPromptTokens(request), quote.PromptTokens);
        Assert.Equal(100, quote.MaxOutputTokens);
        Assert.Equal(_meter.Price(provider, "gpt-4o-mini", new TokenUsage(quote.PromptTokens, 100)), quote.MaxCostNanos);
        Assert.Equal(quote.PromptTokens + 100, quote.MaxTokens);
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat, """{"max_tokens":10,"max_completion_tokens":20,"messages":[]}""", 20)]
    [InlineData(WireFormat.OpenAIResponses, """{"max_output_tokens":30,"input":"x"}""", 30)]
    [InlineData(WireFormat.AnthropicMessages, """{"max_tokens":40,"messages":[]}""", 40)]
    [InlineData(WireFormat.OpenAIChat, """{"messages":[]}""", 512)]
    [InlineData(WireFormat.OpenAIEmbeddings, """{"input":"x"}""", 0)]
    [InlineData(WireFormat.Cp1, """{"text":"x","max_tokens":50}""", 50)]
    public void Quote_OutputLimit_IsTheRequestsElseTheEntrysDefault(WireFormat format, string payload, long expected)
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 1m, defaultMaxTokens: 512), "m");

        Assert.Equal(expected, _meter.Quote(Requests.Of(format, payload), provider).MaxOutputTokens);
    }

    [Fact]
    public void Quote_GatewayModelNotOfferedByTheProvider_PricesTheProvidersModel()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 1m, models: ("cheap", new Routing.Catalog.ModelPrice(0.1m, 0.1m))), "cheap");
        var request = Requests.Of(WireFormat.OpenAIChat, """{"model":"my-route","messages":[]}""", gatewayModel: "my-route");

        Assert.Equal("cheap", _meter.Quote(request, provider).Model);
    }

    [Fact]
    public void Quote_Cp1ModelAllowed_IsPriced_ElseTheDefault()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 1m), null, "a", "b");

        Assert.Equal("b", _meter.Quote(Requests.Of(WireFormat.Cp1, """{"model":"b","text":"x"}"""), provider).Model);
        Assert.Equal("a", _meter.Quote(Requests.Of(WireFormat.Cp1, """{"model":"z","text":"x"}"""), provider).Model);
        Assert.Equal("a", _meter.Quote(Requests.Of(WireFormat.Cp1, """{"text":"x"}"""), provider).Model);
    }

    [Fact]
    public void Quote_ProviderWithoutModel_PricesTheBodysModel()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 1m, output: 1m));
        var request = Requests.Of(WireFormat.OpenAIChat, """{"model":"llama-3","messages":[]}""", gatewayModel: "llama-3");

        Assert.Equal("llama-3", _meter.Quote(request, provider).Model);
    }

    [Fact]
    public void AddBeamlineCostMeter_RegistersOneSingleton_WithoutReplacingAnother()
    {
        var services = new ServiceCollection().AddBeamlineCostMeter().AddBeamlineCostMeter();
        using var provider = services.BuildServiceProvider();

        Assert.Single(services, d => d.ServiceType == typeof(ICostMeter));
        Assert.IsType<CostMeter>(provider.GetRequiredService<ICostMeter>());
        Assert.Same(provider.GetRequiredService<ICostMeter>(), provider.GetRequiredService<ICostMeter>());
    }

    [Fact]
    public void Quote_MaxTokensNear2To63_IsCappedAndNothingOverflows()
    {
        var provider = Requests.Provider(Requests.Pricing(input: 2.5m, output: 10m), null, "gpt-4o", "gpt-4o-mini");
        var request = Requests.Of(WireFormat.OpenAIChat, """{"model":"gpt-4o","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}""");

        var quote = _meter.Quote(request, provider);

        Assert.Equal(CostMeter.MaxOutputTokens, quote.MaxOutputTokens);
        Assert.True(quote.MaxTokens > 0 && quote.MaxCostNanos > 0);
    }
}
