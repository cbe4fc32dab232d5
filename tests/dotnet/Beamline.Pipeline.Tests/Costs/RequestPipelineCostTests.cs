using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Beamline.Costs;
using Beamline.Cp1;
using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Pipeline.Tests.Costs;

/// <summary>
/// The pipeline's accounting: each attempt reserves its largest cost, a call that answered is
/// settled to its usage (the provider's, priced by the catalog), a failed one gives its
/// reservation back, and a stream is metered as it passes — with the real cost meter.
/// </summary>
public sealed class RequestPipelineCostTests
{
    private const string Policy = """{"policy_id":"p","providers":[{"name":"a","weight":100}],"fallbacks":[{"when":{"status":["timeout","5xx"]},"retry":0,"to":"b"}]}""";

    // $1 per million input tokens, $2 per million output: 1,000 and 2,000 nano-dollars a token.
    private static readonly ModelPrice Price = new(1m, 2m);

    private static ProviderDescriptor[] Priced() =>
    [
        new ProviderDescriptor { Id = "a", Kind = ProviderKind.OpenAI, Model = "gpt-4o-mini", Pricing = new ProviderPricing { Default = Price, DefaultMaxTokens = 100 } },
        new ProviderDescriptor { Id = "b", Kind = ProviderKind.OpenAI, Model = "gpt-4o-mini", Pricing = new ProviderPricing { Default = Price, DefaultMaxTokens = 100 } },
    ];

    private static PipelineRequest Chat(string json, bool stream = false) => new()
    {
        Caller = new Caller { TenantId = TestPipeline.Tenant, KeyId = "k1" },
        RequestId = Guid.NewGuid().ToString("N"),
        MessageType = "chat",
        Payload = Encoding.UTF8.GetBytes(json),
        PayloadKind = PayloadKind.Json,
        Format = WireFormat.OpenAIChat,
        Stream = stream,
        Face = "openai",
    };

    private const string Body = """{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"Hello there"}]}""";

    private const string Answer = """{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}""";

    [Fact]
    public async Task Execute_ProviderReportsUsage_SettlesItsCostAtTheCatalogPrice()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var accounting = new RecordingAccounting();
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget, accounting: accounting);
        test.Providers.Answer("a", Answer, WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.Equal(new TokenUsage(9, 12), result.Usage);
        Assert.Equal(9 * 1_000 + 12 * 2_000, result.CostNanos);
        Assert.Equal("gpt-4o-mini", result.Model);
        Assert.Equal(result.CostNanos, budget.Spent);
        Assert.Equal(0, budget.Reserved);
        // What was reserved covered the prompt and max_tokens (20) at the prices.
        Assert.True(budget.Reservations.Single() >= 20 * 2_000);
        Assert.Same(result, Assert.Single(accounting.Executed));
    }

    [Fact]
    public async Task Execute_AnswerWithoutUsage_IsCountedAndMarkedEstimated()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: new OneBudget(1_000_000_000));
        test.Providers.Answer("a", """{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there, how can I help?"}}]}""",
            WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        var usage = Assert.IsType<TokenUsage>(result.Usage);
        Assert.True(usage.Estimated);
        Assert.True(usage.InputTokens > 0 && usage.OutputTokens > 0, usage.ToString());
        Assert.Equal(usage.InputTokens * 1_000 + usage.OutputTokens * 2_000, result.CostNanos);
    }

    [Fact]
    public async Task Execute_CallerWithoutBudgets_DoesNotCountThePrompt_WhenTheProviderReportsUsage()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: UnlimitedBudgets.Instance);
        test.Providers.Answer("a", Answer, WireFormat.OpenAIChat);
        var request = Chat(Body);

        var result = await test.Pipeline.ExecuteAsync(request, CancellationToken.None);

        Assert.Equal(new TokenUsage(9, 12), result.Usage);
        Assert.Null(request.PromptTokens);
    }

    [Fact]
    public async Task Execute_CallerWithoutBudgets_CountsThePromptOnlyToEstimateMissingUsage()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: UnlimitedBudgets.Instance);
        test.Providers.Answer("a", """{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"}}]}""",
            WireFormat.OpenAIChat);
        var request = Chat(Body);

        var result = await test.Pipeline.ExecuteAsync(request, CancellationToken.None);

        Assert.True(result.Usage!.Value.Estimated);
        Assert.Equal(new CostMeter().CountPromptTokens(Chat(Body)), result.Usage.Value.InputTokens);
        Assert.True(result.Usage.Value.InputTokens > 0);
    }

    [Fact]
    public async Task Stream_CallerWithoutBudgets_EstimatesTheInputWhenTheStreamReportsNone()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: UnlimitedBudgets.Instance);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", Chunk("Hi"), "data: [DONE]\n\n");

        var (_, result) = await Collect(test.Pipeline.ExecuteStreamAsync(Chat(Body, stream: true), CancellationToken.None));

        Assert.True(result.Usage!.Value.Estimated);
        Assert.Equal(new CostMeter().CountPromptTokens(Chat(Body)), result.Usage.Value.InputTokens);
    }

    [Fact]
    public async Task Execute_CallerGoesAwayAfterTheCallWasCharged_IsStillAccountedAsCancelled()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var accounting = new RecordingAccounting();
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget, accounting: accounting);
        using var caller = new CancellationTokenSource();
        test.Providers.AnswerWhile("a", Answer, WireFormat.OpenAIChat, caller.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => test.Pipeline.ExecuteAsync(Chat(Body), caller.Token));

        var accounted = Assert.Single(accounting.Executed);
        Assert.Equal(RequestPipeline.AbandonedCode, accounted.Error?.Code);
        Assert.Equal(new TokenUsage(9, 12), accounted.Usage);
        Assert.Equal(budget.Spent, accounted.CostNanos);
        Assert.Equal("a", accounted.ProviderId);
    }

    [Fact]
    public async Task Execute_PostExtensionFailsAfterTheCallWasCharged_TheErrorCarriesTheCost()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var test = new TestPipeline("""{"providers":[{"name":"a","weight":1}],"post":[{"id":"no_such_extension","mode":"required"}]}""",
            providers: Priced(), costs: new CostMeter(), budgets: budget);
        test.Providers.Answer("a", Answer, WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, result.Error?.Code);
        Assert.Equal(new TokenUsage(9, 12), result.Usage);
        Assert.Equal(budget.Spent, result.CostNanos);
        Assert.True(result.CostNanos > 0);
    }

    [Fact]
    public async Task Execute_AnAccountingSinkThrows_TheRequestIsAnsweredAndTheOtherSinksHearOfIt()
    {
        var recording = new RecordingAccounting();
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: new OneBudget(1_000_000_000),
            accountings: [new ThrowingAccounting(), recording]);
        test.Providers.Answer("a", Answer, WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        Assert.True(result.IsSuccess);
        Assert.Single(recording.Executed);
    }

    [Fact]
    public async Task Execute_OverBudget_IsRefusedAsQuotaExceededWithReasonBudget_AndNoProviderIsCalled()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: new OneBudget(limitNanos: 1_000));
        test.Providers.Answer("a", Answer, WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.QuotaExceeded, result.Error?.Code);
        Assert.Equal("budget", result.Error!.Details!.Value.GetProperty("reason").GetString());
        Assert.Equal("monthly_budget_usd", result.Error.Details.Value.GetProperty("limit").GetString());
        Assert.Equal(3600, result.Error.RetryAfterSeconds);
        Assert.Empty(test.Providers.Calls);
    }

    [Fact]
    public async Task Decide_BudgetAlreadySpent_IsRefused()
    {
        var budget = new OneBudget(limitNanos: 0);
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget);

        var result = await test.Pipeline.DecideAsync(Chat(Body), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.QuotaExceeded, result.Error?.Code);
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task Execute_FailedAttempt_GivesItsReservationBack_AndTheFallbackIsChargedAlone()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget);
        test.Providers.Fail("a", Beamline.Policies.FailureKinds.ServerError);
        test.Providers.Answer("b", Answer, WireFormat.OpenAIChat);

        var result = await test.Pipeline.ExecuteAsync(Chat(Body), CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.Equal(2, budget.Reservations.Count);
        Assert.Equal(1, budget.Releases);
        Assert.Equal(1, budget.Settles);
        Assert.Equal(9 * 1_000 + 12 * 2_000, budget.Spent);
        Assert.Equal(0, budget.Reserved);
    }

    private static string Chunk(string content) =>
        $"data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n";

    private const string UsageChunk = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\n";

    [Fact]
    public async Task Stream_UsageTheClientDidNotAskFor_IsChargedExactly_AndNotPassedOn()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var accounting = new RecordingAccounting();
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget, accounting: accounting);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", Chunk("Hel"), Chunk("lo"), Chunk("!"), UsageChunk, "data: [DONE]\n\n");

        var (text, result) = await Collect(test.Pipeline.ExecuteStreamAsync(Chat(Body, stream: true), CancellationToken.None));

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.DoesNotContain("\"usage\"", text);
        Assert.Contains("data: [DONE]", text);
        Assert.Equal(new TokenUsage(9, 3), result.Usage);
        Assert.Equal(9 * 1_000 + 3 * 2_000, budget.Spent);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(text)), result.StreamSha256);
    }

    [Fact]
    public async Task Stream_ClientAskedForUsage_GetsTheUsageChunk()
    {
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: new OneBudget(1_000_000_000));
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", Chunk("Hi"), UsageChunk, "data: [DONE]\n\n");
        var body = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]}""";

        var (text, result) = await Collect(test.Pipeline.ExecuteStreamAsync(Chat(body, stream: true), CancellationToken.None));

        Assert.Contains("\"usage\"", text);
        Assert.False(result.Usage!.Value.Estimated);
    }

    [Fact]
    public async Task Stream_UpstreamIgnoringMaxTokens_IsEndedCleanlyAtItsReservation()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        var runaway = Enumerable.Range(0, 200).Select(i => Chunk(" word")).Append("data: [DONE]\n\n").ToArray();
        test.Providers.Stream("a", runaway);
        var body = """{"model":"gpt-4o-mini","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}""";

        var (text, result) = await Collect(test.Pipeline.ExecuteStreamAsync(Chat(body, stream: true), CancellationToken.None));

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.Equal(RequestPipeline.BudgetReason, result.StopReason);
        Assert.True(test.Providers.ChunksProduced < 20, $"the upstream was read on: {test.Providers.ChunksProduced} chunks");
        // The last event says why, in the stream's own format, and the stream is closed.
        Assert.Contains("\"finish_reason\":\"length\"", text);
        Assert.Contains("beamline_stop", text);
        Assert.EndsWith("data: [DONE]\n\n", text);
        // Charged for what streamed: a little past the reservation's output, never the 200 words.
        Assert.InRange(result.Usage!.Value.OutputTokens, 5, 8);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public async Task Stream_EndedAtItsReservation_PassesOnWhatThePostStepsHeldBack()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var providers = new[]
        {
            new ProviderDescriptor { Id = "a", Kind = ProviderKind.Block, BlockType = "test.a", Pricing = new ProviderPricing { Default = Price, DefaultMaxTokens = 5 } },
        };
        var test = new TestPipeline("""{"providers":[{"name":"a","weight":1}],"post":[{"id":"mask","mode":"required"}]}""",
            builtIns: [new Beamline.Pipeline.Tests.Extensions.MaskingStreamBuiltIn()], providers: providers, costs: new CostMeter(), budgets: budget);
        // Opaque text whose every chunk ends with what could begin the masked word: the step holds "se" back.
        test.Providers.Stream("a", Enumerable.Repeat("a se", 200).ToArray());

        var (text, result) = await Collect(test.Pipeline.ExecuteStreamAsync(TestPipeline.Request(), CancellationToken.None));

        Assert.Equal(RequestPipeline.BudgetReason, result.StopReason);
        Assert.Equal(string.Concat(Enumerable.Repeat("a se", test.Providers.ChunksProduced)), text);
    }

    [Fact]
    public async Task Stream_CallerGoesAwayMidStream_ChargesWhatStreamed_AndHoldsNothing()
    {
        var budget = new OneBudget(limitNanos: 1_000_000_000);
        var accounting = new RecordingAccounting();
        var test = new TestPipeline(Policy, providers: Priced(), costs: new CostMeter(), budgets: budget, accounting: accounting);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", Chunk("one"), Chunk(" two"), Chunk(" three"), UsageChunk, "data: [DONE]\n\n");
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var item in test.Pipeline.ExecuteStreamAsync(Chat(Body, stream: true), cancel.Token))
            {
                cancel.Cancel();
            }
        });

        Assert.Equal(0, budget.Reserved);
        Assert.Equal(1, budget.Settles);
        Assert.True(budget.Spent > 0);
        // Nobody got the result, but the ledger and the audit hear what was charged.
        var accounted = Assert.Single(accounting.Executed);
        Assert.Equal(RequestPipeline.AbandonedCode, accounted.Error?.Code);
        Assert.Equal(budget.Spent, accounted.CostNanos);
        Assert.Equal("a", accounted.ProviderId);
    }

    private static async Task<(string Text, ExecuteResult Result)> Collect(IAsyncEnumerable<ExecuteStreamItem> items)
    {
        var text = new StringBuilder();
        await foreach (var item in items)
        {
            if (item.Result is { } result)
            {
                return (text.ToString(), result);
            }
            text.Append(Encoding.UTF8.GetString(item.Chunk.Span));
        }
        throw new InvalidOperationException("the stream ended without a result");
    }
}
