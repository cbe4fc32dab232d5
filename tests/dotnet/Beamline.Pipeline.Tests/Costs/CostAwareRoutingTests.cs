using System.Text;
using Beamline.Costs;
using Beamline.Routing;
using Beamline.Routing.Catalog;

namespace Beamline.Pipeline.Tests.Costs;

/// <summary>
/// <c>cheapest</c> and <c>max_cost</c> price providers with the catalog's prices and the request's
/// prompt as the tokenizer counts it: which provider is cheapest depends on how long the prompt is.
/// </summary>
public sealed class CostAwareRoutingTests
{
    private const string Cheapest = """{"strategy":"cheapest","providers":[{"name":"fee","weight":1},{"name":"per_token","weight":1}]}""";

    // "fee": $0.01 a request, tokens free; "per_token": no fee, $10 per million input tokens.
    // Below 1,000 prompt tokens per_token is cheaper; above, fee is.
    private static ProviderDescriptor[] Providers() =>
    [
        new ProviderDescriptor { Id = "fee", Kind = ProviderKind.OpenAI, Model = "m", Pricing = new ProviderPricing { Default = new ModelPrice(0, 0, null, 0.01m) } },
        new ProviderDescriptor
        {
            Id = "per_token", Kind = ProviderKind.OpenAI, Model = "m", InputPricePer1K = 0.01,
            Pricing = new ProviderPricing { Default = new ModelPrice(10m, 0) },
        },
    ];

    private static PipelineRequest Chat(string content, double? maxCost = null) => new()
    {
        Caller = new Caller { TenantId = TestPipeline.Tenant },
        RequestId = Guid.NewGuid().ToString("N"),
        MessageType = "chat",
        Payload = Encoding.UTF8.GetBytes($$"""{"model":"m","messages":[{"role":"user","content":"{{content}}"}]}"""),
        PayloadKind = PayloadKind.Json,
        Format = WireFormat.OpenAIChat,
        MaxCost = maxCost,
    };

    [Fact]
    public async Task Decide_Cheapest_ShortPrompt_PicksThePerTokenProvider_LongPrompt_TheFlatFee()
    {
        var test = new TestPipeline(Cheapest, providers: Providers(), costs: new CostMeter());
        var shortRequest = Chat("Hello there");
        var longRequest = Chat(string.Join(' ', Enumerable.Repeat("tokens", 3000)));

        var shortDecision = await test.Pipeline.DecideAsync(shortRequest, CancellationToken.None);
        var longDecision = await test.Pipeline.DecideAsync(longRequest, CancellationToken.None);
        shortDecision.Lease?.Dispose();
        longDecision.Lease?.Dispose();

        Assert.Equal("per_token", shortDecision.Decision.ProviderId);
        Assert.Equal(RouteReasons.Cheapest, shortDecision.Decision.Reason);
        Assert.Equal("fee", longDecision.Decision.ProviderId);
        // The router priced the tokenizer's count, not a guess from the body's length.
        Assert.Equal(new CostMeter().CountPromptTokens(Chat(string.Join(' ', Enumerable.Repeat("tokens", 3000)))), longRequest.PromptTokens);
        Assert.True(longRequest.PromptTokens > 3000);
    }

    [Fact]
    public async Task Decide_MaxCost_ExcludesAProviderTheCountedPromptMakesTooDear()
    {
        var test = new TestPipeline("""{"providers":[{"name":"per_token","weight":1}],"fallbacks":[]}""", providers: Providers(), costs: new CostMeter());

        // About 3,000 tokens at $10 per million: $0.03, over a $0.02 ceiling.
        var decision = await test.Pipeline.DecideAsync(Chat(string.Join(' ', Enumerable.Repeat("tokens", 3000)), maxCost: 0.02), CancellationToken.None);
        var cheap = await test.Pipeline.DecideAsync(Chat("Hello there", maxCost: 0.02), CancellationToken.None);
        cheap.Lease?.Dispose();

        Assert.False(decision.IsSuccess);
        Assert.Equal("per_token", cheap.Decision.ProviderId);
    }
}
