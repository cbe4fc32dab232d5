using System.Collections.Immutable;
using System.Text;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Policies;

namespace Beamline.Pipeline.Tests;

/// <summary>The pipeline's stages over a real router: admission, routing, fallbacks, deadlines, streams, activity.</summary>
public sealed class RequestPipelineTests
{
    private const string AThenB = """
        {"providers":[{"name":"a","weight":1}],
         "fallbacks":[{"when":{"status":["5xx","timeout"]},"retry":0,"to":"b"}]}
        """;

    [Fact]
    public async Task Decide_PolicyWithoutExtensions_CompletesSynchronouslyAndHandsTheLeaseToTheCaller()
    {
        var test = new TestPipeline(AThenB);

        var pending = test.Pipeline.DecideAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.True(pending.IsCompletedSuccessfully);
        var result = await pending;
        Assert.True(result.IsSuccess);
        Assert.Equal("a", result.Decision.ProviderId);
        Assert.Equal(1, test.Admission.InFlight);
        result.Lease!.Dispose();
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task Decide_Refused_AnswersQuotaExceededWithRetryAfterAndRoutesNothing()
    {
        var test = new TestPipeline(AThenB);
        test.Admission.Refuse = true;

        var result = await test.Pipeline.DecideAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.QuotaExceeded, result.Error!.Code);
        Assert.Equal(7, result.Error.RetryAfterSeconds);
        Assert.DoesNotContain(test.Activity.Events, e => e.Kind == ActivityKinds.Decision);
    }

    [Fact]
    public async Task Decide_KeyLimitedToOtherPolicies_IsDeniedBeforeAdmission()
    {
        var test = new TestPipeline(AThenB);
        var caller = new Caller { TenantId = TestPipeline.Tenant, AllowedPolicies = ImmutableArray.Create("other") };

        var result = await test.Pipeline.DecideAsync(TestPipeline.Request(caller: caller), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.Denied, result.Error!.Code);
        Assert.Equal("policy_id", result.Error.Field);
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task Execute_FirstProviderFails_FallsBackRecordsBothAttemptsAndGivesTheSlotBack()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.ServerError);
        test.Providers.Answer("b", """{"answer":"from b"}""");

        var result = await test.Pipeline.ExecuteAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.Equal("b", result.ProviderId);
        Assert.Equal(["a", "b"], result.Attempts.Select(a => a.ProviderId));
        Assert.Equal(PayloadKind.Json, result.OutputKind);
        Assert.Equal("""{"answer":"from b"}""", Encoding.UTF8.GetString(result.Output.Span));
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task Execute_ProviderRefusesTheRequest_IsInvalidRequestWithoutFallback()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.None, httpStatus: 400);

        var result = await test.Pipeline.ExecuteAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Equal(["a"], result.Attempts.Select(a => a.ProviderId));
    }

    [Fact]
    public async Task Execute_ClientRefusedByItsProviderClient_IsInvalidRequestAndCallsNothing()
    {
        var test = new TestPipeline(AThenB);
        var request = TestPipeline.Request();
        request.Metadata["refuse"] = "model 'x' is not offered";

        var result = await test.Pipeline.ExecuteAsync(request, CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Equal("payload.model", result.Error.Field);
        Assert.Empty(test.Providers.Calls);
    }

    [Fact]
    public async Task Execute_AllProvidersFail_IsDecisionFailedWithEveryAttempt()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.ServerError);
        test.Providers.Fail("b", FailureKinds.ServerError);

        var result = await test.Pipeline.ExecuteAsync(TestPipeline.Request(), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.DecisionFailed, result.Error!.Code);
        Assert.Equal(["a", "b"], result.Attempts.Select(a => a.ProviderId));
    }

    [Fact]
    public async Task Execute_ProviderOutlivesTheDeadline_EndsWithDeadlineExceededAndGivesTheSlotBack()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Hang("a");

        var result = await test.Pipeline.ExecuteAsync(TestPipeline.Request(timeout: TimeSpan.FromMilliseconds(200)), CancellationToken.None);

        Assert.Equal(Cp1ErrorCodes.DecisionFailed, result.Error!.Code);
        Assert.Equal(RequestPipeline.DeadlineExceededType, result.Error.Type);
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task Execute_ClientGoesAway_CancelsTheProviderCallAndGivesTheSlotBack()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Hang("a");
        using var client = new CancellationTokenSource();

        var running = test.Pipeline.ExecuteAsync(TestPipeline.Request(), client.Token);
        while (test.Providers.Calls.IsEmpty)
        {
            await Task.Delay(5);
        }
        Assert.Equal(1, test.Admission.InFlight);
        await client.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task ExecuteStream_PassesChunksOnAsTheyComeThenOneResult()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Stream("a", "Hel", "lo, ", "world");

        var items = new List<ExecuteStreamItem>();
        await foreach (var item in test.Pipeline.ExecuteStreamAsync(TestPipeline.Request(), CancellationToken.None))
        {
            items.Add(item);
        }

        Assert.Equal(["Hel", "lo, ", "world"], items.Where(i => !i.IsFinal).Select(i => Encoding.UTF8.GetString(i.Chunk.Span)));
        var final = Assert.Single(items, i => i.IsFinal);
        Assert.Same(items[^1].Result, final.Result);
        Assert.True(final.Result!.IsSuccess);
        Assert.Equal("a", final.Result.ProviderId);
        Assert.Contains(test.Activity.Events, e => e.Kind == ActivityKinds.FirstChunk && e.Subject == "a");
        Assert.Equal(0, test.Admission.InFlight);
    }

    [Fact]
    public async Task ExecuteStream_FailureBeforeTheFirstChunk_FallsBack()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.ServerError);
        test.Providers.Stream("b", "from ", "b");

        var chunks = new StringBuilder();
        ExecuteResult? result = null;
        await foreach (var item in test.Pipeline.ExecuteStreamAsync(TestPipeline.Request(), CancellationToken.None))
        {
            if (item.IsFinal)
            {
                result = item.Result;
            }
            else
            {
                chunks.Append(Encoding.UTF8.GetString(item.Chunk.Span));
            }
        }

        Assert.Equal("from b", chunks.ToString());
        Assert.Equal(["a", "b"], result!.Attempts.Select(a => a.ProviderId));
    }

    [Fact]
    public async Task Activity_EveryStageOfAnExecuteIsReportedInOrder()
    {
        var test = new TestPipeline(AThenB);
        test.Providers.Fail("a", FailureKinds.ServerError);
        test.Providers.Answer("b", "ok");
        var request = TestPipeline.Request();

        await test.Pipeline.ExecuteAsync(request, CancellationToken.None);

        var events = test.Activity.Events.Where(e => e.RequestId == request.RequestId).ToList();
        Assert.Equal(
            [ActivityKinds.Received, ActivityKinds.Decision, ActivityKinds.ProviderAttempt, ActivityKinds.Decision, ActivityKinds.ProviderAttempt, ActivityKinds.Final],
            events.Select(e => e.Kind));
        Assert.Equal("test", events[0].Stage);
        Assert.Equal("ok", events[^1].Status);
        Assert.All(events, e => Assert.Equal(TestPipeline.Tenant, e.TenantId));
    }

    [Theory]
    [InlineData("""{"a":1}""", PayloadKind.Json)]
    [InlineData("""  ["x"] """, PayloadKind.Json)]
    [InlineData("""{"a":1} trailing""", PayloadKind.Text)]
    [InlineData("plain text", PayloadKind.Text)]
    [InlineData("", PayloadKind.None)]
    public void PayloadKinds_Detect(string text, PayloadKind expected)
        => Assert.Equal(expected, PayloadKinds.Detect(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void PayloadKinds_InvalidUtf8_IsBinary()
        => Assert.Equal(PayloadKind.Binary, PayloadKinds.Detect([0xff, 0xfe, 0x00]));
}
