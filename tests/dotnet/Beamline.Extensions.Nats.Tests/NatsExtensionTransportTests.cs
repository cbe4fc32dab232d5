using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using Beamline.Testing;
using static Beamline.Extensions.Nats.Tests.Harness;

namespace Beamline.Extensions.Nats.Tests;

/// <summary>
/// The runner over <see cref="NatsExtensionTransport"/> against CP1 extensions in node on a real
/// nats-server: every extension type with every mode and <c>on_fail</c>.
/// </summary>
[Collection(NodeExtensionsCollection.Name)]
public sealed class NatsExtensionTransportTests(NodeExtensionsFixture fixture)
{
    /// <summary>The behaviours that fail a call, and the error of a required pre/post step.</summary>
    public static TheoryData<string, string> Failures => new()
    {
        { "slow", Cp1ErrorCodes.ExtensionTimeout },
        { "malformed-text", Cp1ErrorCodes.ExtensionUnavailable },
        { "malformed-array", Cp1ErrorCodes.ExtensionUnavailable },
        { "dead", Cp1ErrorCodes.ExtensionUnavailable },
    };

    public static TheoryData<string, string, ExtensionMode> FailuresByMode()
    {
        var data = new TheoryData<string, string, ExtensionMode>();
        foreach (var mode in Enum.GetValues<ExtensionMode>())
        {
            foreach (var (behaviour, code) in new[]
            {
                ("slow", Cp1ErrorCodes.ExtensionTimeout),
                ("malformed-text", Cp1ErrorCodes.ExtensionUnavailable),
                ("malformed-array", Cp1ErrorCodes.ExtensionUnavailable),
                ("dead", Cp1ErrorCodes.ExtensionUnavailable),
            })
            {
                data.Add(behaviour, code, mode);
            }
        }
        return data;
    }

    // ---- pre ----

    [Theory]
    [InlineData(ExtensionMode.Required)]
    [InlineData(ExtensionMode.Optional)]
    public async Task Pre_EchoRewrite_ReplacesPayloadAndMergesMetadata(ExtensionMode mode)
    {
        var h = new Harness(fixture).Serve("rewrite", ExtensionType.Pre, "echo-rewrite");
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, "rewrite", mode), default);

        Assert.Null(error);
        using var payload = JsonDocument.Parse(request.Payload);
        Assert.Equal("node", payload.RootElement.GetProperty("rewritten_by").GetString());
        Assert.Equal("hello", payload.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("node", request.Metadata["seen_by"]);
        Assert.Equal("web", request.Metadata["channel"]);
        Assert.Equal("ok", Assert.Single(h.Activity.Events).Status);
    }

    [Fact]
    public async Task Pre_Request_IsTheCp1RequestWithoutConfig()
    {
        var h = new Harness(fixture).Serve("inspect", ExtensionType.Pre, "inspect");
        var steps = Steps(ExtensionStage.Pre, "inspect", ExtensionMode.Required)
            .Select(s => s with { Config = JsonDocument.Parse("""{"api_key":"sk-secret"}""").RootElement.Clone() }).ToImmutableArray();
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, steps, default));

        using var seen = JsonDocument.Parse(request.Payload);
        var root = seen.RootElement;
        Assert.Equal(["trace_id", "tenant_id", "request_id", "payload", "metadata"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("trace-1", root.GetProperty("trace_id").GetString());
        Assert.Equal("tenant-a", root.GetProperty("tenant_id").GetString());
        Assert.Equal("req-1", root.GetProperty("request_id").GetString());
        Assert.Equal("hello", root.GetProperty("payload").GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("web", root.GetProperty("metadata").GetProperty("channel").GetString());
        Assert.DoesNotContain("sk-secret", root.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pre_TextPayload_TravelsAsAJsonStringAndComesBackAsText()
    {
        var h = new Harness(fixture).Serve("rewrite", ExtensionType.Pre, "echo-rewrite");
        var request = Request("make me loud", PayloadKind.Text);

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, "rewrite", ExtensionMode.Required), default));

        Assert.Equal("MAKE ME LOUD", Text(request.Payload));
        Assert.Equal(PayloadKind.Text, request.PayloadKind);
    }

    [Theory]
    [MemberData(nameof(FailuresByMode))]
    public async Task Pre_ServiceFails_RequiredErrsOptionalSkips(string behaviour, string code, ExtensionMode mode)
    {
        var h = new Harness(fixture).Serve("ext", ExtensionType.Pre, behaviour, timeoutMs: TimeoutFor(behaviour));
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, "ext", mode), default);

        if (mode == ExtensionMode.Required)
        {
            Assert.Equal(code, error?.Code);
            Assert.Contains("'ext'", error!.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(error);
            Assert.Equal("ext", request.Metadata[ExtensionMetadataKeys.Skipped]);
        }
        Assert.Equal(Request().Payload.ToArray(), request.Payload.ToArray());
        Assert.Equal(StatusOf(behaviour), Assert.Single(h.Activity.Events).Status);
    }

    [Fact]
    public async Task Pre_UnknownId_RequiredIsNotFoundOptionalSkipped()
    {
        var h = new Harness(fixture);

        var required = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, "ghost", ExtensionMode.Required), default);
        var request = Request();
        var optional = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, "ghost", ExtensionMode.Optional), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, required?.Code);
        Assert.Null(optional);
        Assert.Equal("ghost", request.Metadata[ExtensionMetadataKeys.Skipped]);
    }

    [Fact]
    public async Task Pre_Flapping_WithOneRetry_AlwaysSucceeds()
    {
        var h = new Harness(fixture).Serve("flap", ExtensionType.Pre, "flapping-retry", retry: 1);

        for (var i = 0; i < 4; i++)
        {
            var request = Request();
            Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, "flap", ExtensionMode.Required), default));
            Assert.Equal("node", request.Metadata["seen_by"]);
        }
        var health = Assert.Single(h.Runner.Health());
        Assert.Equal("closed", health.Breaker);
        Assert.True(health.Failures is >= 1 and <= 4, $"{health.Failures} failures");
    }

    [Fact]
    public async Task Pre_Flapping_WithoutRetry_FailsEveryOtherCall()
    {
        var h = new Harness(fixture).Serve("flap", ExtensionType.Pre, "flapping-alternate");
        var steps = Steps(ExtensionStage.Pre, "flap", ExtensionMode.Required);

        var outcomes = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            outcomes.Add((await h.Runner.RunPreAsync(Request(), steps, default))?.Code);
        }

        Assert.Equal([Cp1ErrorCodes.ExtensionUnavailable, null, Cp1ErrorCodes.ExtensionUnavailable, null], outcomes);
    }

    // ---- validators ----

    public static TheoryData<string, ValidatorFailAction> ValidatorMatrix()
    {
        var data = new TheoryData<string, ValidatorFailAction>();
        foreach (var onFail in Enum.GetValues<ValidatorFailAction>())
        {
            foreach (var behaviour in new[] { "echo-rewrite", "reject", "slow", "malformed-text", "malformed-array", "dead" })
            {
                data.Add(behaviour, onFail);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ValidatorMatrix))]
    public async Task Validator_OutcomeFollowsOnFail(string behaviour, ValidatorFailAction onFail)
    {
        var h = new Harness(fixture).Serve("v", ExtensionType.Validator, behaviour, timeoutMs: TimeoutFor(behaviour));
        var request = Request();

        var error = await h.Runner.RunValidatorsAsync(request, Validators(("v", onFail)), default);

        var status = Assert.Single(h.Activity.Events).Status;
        if (behaviour == "echo-rewrite")
        {
            Assert.Null(error);
            Assert.Equal("ok", status);
            Assert.False(request.Metadata.ContainsKey(ExtensionMetadataKeys.ValidatorWarnings));
            return;
        }
        Assert.Equal(behaviour == "reject" ? "reject" : StatusOf(behaviour), status);
        switch (onFail)
        {
            case ValidatorFailAction.Block:
                Assert.Equal(Cp1ErrorCodes.ValidatorBlocked, error?.Code);
                Assert.Contains("'v'", error!.Message, StringComparison.Ordinal);
                Assert.Equal("v", error.Details!.Value.GetProperty("validator").GetString());
                break;
            case ValidatorFailAction.Warn:
                Assert.Null(error);
                Assert.Equal("v", request.Metadata[ExtensionMetadataKeys.ValidatorWarnings]);
                break;
            default:
                Assert.Null(error);
                Assert.False(request.Metadata.ContainsKey(ExtensionMetadataKeys.ValidatorWarnings));
                break;
        }
    }

    [Fact]
    public async Task Validator_Reject_CarriesReasonAndDetails()
    {
        var h = new Harness(fixture).Serve("v", ExtensionType.Validator, "reject");

        var error = await h.Runner.RunValidatorsAsync(Request(), Validators(("v", ValidatorFailAction.Block)), default);

        Assert.NotNull(error);
        Assert.Equal(403, error.HttpStatus);
        Assert.Contains("node says no", error.Message, StringComparison.Ordinal);
        var details = error.Details!.Value;
        Assert.Equal("node says no", details.GetProperty("reason").GetString());
        Assert.Equal("tenant-a", details.GetProperty("details").GetProperty("tenant").GetString());
    }

    [Fact]
    public async Task Validators_Several_AllRunAndTheFirstBlockingInPolicyOrderIsReported()
    {
        var h = new Harness(fixture)
            .Serve("slow-warn", ExtensionType.Validator, "slow", timeoutMs: SlowTimeoutMs)
            .Serve("ok", ExtensionType.Validator, "echo-rewrite")
            .Serve("dead-block", ExtensionType.Validator, "dead")
            .Serve("reject-block", ExtensionType.Validator, "reject")
            .Serve("flap-ignore", ExtensionType.Validator, "flapping-validator");
        var request = Request();

        var error = await h.Runner.RunValidatorsAsync(request, Validators(
            ("slow-warn", ValidatorFailAction.Warn), ("ok", ValidatorFailAction.Block), ("dead-block", ValidatorFailAction.Block),
            ("reject-block", ValidatorFailAction.Block), ("flap-ignore", ValidatorFailAction.Ignore)), default);

        Assert.Equal(Cp1ErrorCodes.ValidatorBlocked, error?.Code);
        Assert.Contains("'dead-block'", error!.Message, StringComparison.Ordinal);
        Assert.Equal("slow-warn", request.Metadata[ExtensionMetadataKeys.ValidatorWarnings]);
        Assert.Equal(5, h.Activity.Events.Count);
    }

    [Theory]
    [InlineData(ValidatorFailAction.Block, Cp1ErrorCodes.ExtensionNotFound)]
    [InlineData(ValidatorFailAction.Warn, null)]
    [InlineData(ValidatorFailAction.Ignore, null)]
    public async Task Validator_UnknownId_BlockIsNotFoundOthersSkip(ValidatorFailAction onFail, string? code)
    {
        var h = new Harness(fixture);

        var error = await h.Runner.RunValidatorsAsync(Request(), Validators(("ghost", onFail)), default);

        Assert.Equal(code, error?.Code);
    }

    // ---- post ----

    [Theory]
    [InlineData("echo-rewrite", ExtensionMode.Required)]
    [InlineData("echo-rewrite", ExtensionMode.Optional)]
    [InlineData("upstream-rewrite", ExtensionMode.Required)]
    [InlineData("upstream-rewrite", ExtensionMode.Optional)]
    public async Task Post_WholeAnswer_IsRewritten(string behaviour, ExtensionMode mode)
    {
        var h = new Harness(fixture).Serve("post", ExtensionType.Post, behaviour);
        var request = Request();

        var outcome = await h.Runner.RunPostAsync(request, Steps(ExtensionStage.Post, "post", mode),
            Encoding.UTF8.GetBytes("""{"content":"answer"}"""), PayloadKind.Json, default);

        Assert.Null(outcome.Error);
        Assert.Equal("""{"content":"answer","rewritten_by":"node"}""", Text(outcome.Answer));
        Assert.Equal("node", request.Metadata["seen_by"]);
        Assert.Single(h.Activity.Events, e => e.Kind == ActivityKinds.PostChange);
    }

    [Theory]
    [MemberData(nameof(FailuresByMode))]
    public async Task Post_ServiceFails_RequiredErrsOptionalKeepsTheAnswer(string behaviour, string code, ExtensionMode mode)
    {
        var h = new Harness(fixture).Serve("ext", ExtensionType.Post, behaviour, timeoutMs: TimeoutFor(behaviour));
        var answer = Encoding.UTF8.GetBytes("""{"content":"answer"}""");

        var outcome = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, "ext", mode), answer, PayloadKind.Json, default);

        Assert.Equal(mode == ExtensionMode.Required ? code : null, outcome.Error?.Code);
        Assert.Equal(answer, outcome.Answer.ToArray());
    }

    [Theory]
    [InlineData("echo-rewrite")]
    [InlineData("upstream-rewrite")]
    public async Task PostStream_Service_RewritesEveryChunk(string behaviour)
    {
        var h = new Harness(fixture).Serve("loud", ExtensionType.Post, behaviour);
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, "loud", ExtensionMode.Required));

        var output = await Run(stream, "hello ", "streaming ", "world");

        Assert.Equal("HELLO STREAMING WORLD", output);
        Assert.Equal(3, h.Activity.Events.Count(e => e.Kind == ActivityKinds.Extension && e.Status == "ok"));
    }

    [Theory]
    [MemberData(nameof(FailuresByMode))]
    public async Task PostStream_ServiceFails_RequiredThrowsOptionalPassesThrough(string behaviour, string code, ExtensionMode mode)
    {
        var h = new Harness(fixture).Serve("ext", ExtensionType.Post, behaviour, timeoutMs: TimeoutFor(behaviour));
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, "ext", mode));

        if (mode == ExtensionMode.Required)
        {
            var failed = await Assert.ThrowsAsync<ExtensionFailedException>(async () => await stream.PushAsync("chunk", default));
            Assert.Equal(code, failed.Error.Code);
        }
        else
        {
            Assert.Equal("chunk one", await Run(stream, "chunk", " one"));
        }
    }

    [Fact]
    public async Task PostStream_Flapping_Optional_RewritesOnlyTheChunksThatSucceeded()
    {
        var h = new Harness(fixture).Serve("flap", ExtensionType.Post, "flapping-stream");
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, "flap", ExtensionMode.Optional));

        var output = await Run(stream, "a", "b", "c", "d");

        Assert.Equal("aBcD", output);
    }

    // ---- breakers and health ----

    [Fact]
    public async Task Breaker_DeadService_OpensAndFailsFast_ThenRecoversWhenTheRegistryPointsAtALiveOne()
    {
        var time = new ManualTimeProvider();
        var h = new Harness(fixture, time, new ExtensionRunnerOptions { BreakerFailureThreshold = 2, BreakerOpenTime = TimeSpan.FromSeconds(5) })
            .Serve("ext", ExtensionType.Pre, "dead");
        var steps = Steps(ExtensionStage.Pre, "ext", ExtensionMode.Required);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, (await h.Runner.RunPreAsync(Request(), steps, default))?.Code);
        }
        var open = Assert.Single(h.Runner.Health());
        Assert.Equal(("open", 2L, 2L), (open.Breaker, open.Calls, open.Failures));
        Assert.Contains("no one serves", open.LastError, StringComparison.Ordinal);

        h.Serve("ext", ExtensionType.Pre, "echo-rewrite");
        Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, (await h.Runner.RunPreAsync(Request(), steps, default))?.Code);
        time.Advance(TimeSpan.FromSeconds(5));
        var request = Request();
        Assert.Null(await h.Runner.RunPreAsync(request, steps, default));

        Assert.Equal("node", request.Metadata["seen_by"]);
        var closed = Assert.Single(h.Runner.Health());
        Assert.Equal(("closed", 3L), (closed.Breaker, closed.Calls));
    }

    [Fact]
    public async Task Health_ReportsNatsSourceSubjectAndTimeouts()
    {
        var h = new Harness(fixture).Serve("slow", ExtensionType.Validator, "slow", timeoutMs: SlowTimeoutMs).Serve("ok", ExtensionType.Validator, "echo-rewrite");

        await h.Runner.RunValidatorsAsync(Request(), Validators(("slow", ValidatorFailAction.Ignore), ("ok", ValidatorFailAction.Block)), default);

        var health = h.Runner.Health();
        Assert.Equal(["ok", "slow"], health.Select(x => x.Id));
        Assert.All(health, x => Assert.Equal("nats", x.Source));
        Assert.Equal(NodeExtensionsFixture.Subject(ExtensionType.Validator, "slow"), health[1].Subject);
        Assert.Equal((1L, 1L, 1L), (health[1].Calls, health[1].Failures, health[1].Timeouts));
        Assert.Equal((1L, 0L), (health[0].Calls, health[0].Failures));
        Assert.NotNull(health[0].P50Ms);
    }

    // ---- the transport alone ----

    [Fact]
    public async Task Transport_NoResponders_IsUnavailable()
    {
        var entry = new ExtensionEntry { Id = "dead", Type = ExtensionType.Pre, Subject = NodeExtensionsFixture.Subject(ExtensionType.Pre, "dead") };

        var reply = await fixture.Transport.CallAsync(entry, Input(), TimeSpan.FromSeconds(5), default);

        Assert.Equal(ExtensionFailure.Unavailable, reply.Failure);
    }

    [Fact]
    public async Task Transport_NoReplyInTime_IsTimeout()
    {
        var entry = new ExtensionEntry { Id = "slow", Type = ExtensionType.Pre, Subject = NodeExtensionsFixture.Subject(ExtensionType.Pre, "slow") };

        var reply = await fixture.Transport.CallAsync(entry, Input(), TimeSpan.FromMilliseconds(200), default);

        Assert.Equal(ExtensionFailure.Timeout, reply.Failure);
    }

    [Fact]
    public async Task Transport_BinaryPayload_RoundTripsAsBase64()
    {
        var entry = new ExtensionEntry { Id = "inspect", Type = ExtensionType.Pre, Subject = NodeExtensionsFixture.Subject(ExtensionType.Pre, "inspect") };
        var input = Input(new byte[] { 0, 1, 2, 255 }, PayloadKind.Binary);

        var reply = await fixture.Transport.CallAsync(entry, input, TimeSpan.FromSeconds(5), default);

        Assert.Equal(ExtensionFailure.None, reply.Failure);
        using var seen = JsonDocument.Parse(reply.Payload!.Value);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, seen.RootElement.GetProperty("payload").GetBytesFromBase64());
    }

    private static ExtensionInput Input(byte[]? payload = null, PayloadKind kind = PayloadKind.Json) => new()
    {
        TenantId = "tenant-a",
        RequestId = "req-1",
        Payload = payload ?? "{}"u8.ToArray(),
        PayloadKind = kind,
        Metadata = new Dictionary<string, string>(),
    };

    /// <summary>Below the 3 s the slow service takes; the others get time to spare on a loaded machine.</summary>
    private const int SlowTimeoutMs = 1_000;

    private static int TimeoutFor(string behaviour) => behaviour == "slow" ? SlowTimeoutMs : 10_000;

    private static string StatusOf(string behaviour) => behaviour switch
    {
        "slow" => "timeout",
        "dead" => "unavailable",
        _ => "malformed",
    };

    private static async Task<string> Run(PostStream stream, params string[] chunks)
    {
        var output = new StringBuilder();
        foreach (var chunk in chunks)
        {
            output.Append(await stream.PushAsync(chunk, default));
        }
        output.Append(await stream.FlushAsync(default));
        return output.ToString();
    }
}
