using System.Text;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using static Beamline.Pipeline.Tests.Extensions.RunnerHarness;

namespace Beamline.Pipeline.Tests.Extensions;

public sealed class ExtensionRunnerPostTests
{
    private static readonly byte[] Answer = Encoding.UTF8.GetBytes("""{"content":"my secret is 42"}""");

    [Theory]
    [InlineData(ExtensionMode.Required)]
    [InlineData(ExtensionMode.Optional)]
    public async Task RunPost_ServiceRewritesAnswer_ReturnsItAndEmitsPostChange(ExtensionMode mode)
    {
        var h = new RunnerHarness();
        h.Registry.Service("redact", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("redact", ExtensionType.Post), call =>
            $$$"""{"payload":{"content":"{{{call.Payload.GetProperty("content").GetString()!.Replace("secret", "******", StringComparison.Ordinal)}}}"},"metadata":{"redacted":"1"}}""");
        var request = Request();

        var outcome = await h.Runner.RunPostAsync(request, Steps(ExtensionStage.Post, ("redact", mode)), Answer, PayloadKind.Json, default);

        Assert.Null(outcome.Error);
        Assert.Equal("""{"content":"my ****** is 42"}""", Text(outcome.Answer));
        Assert.Equal(PayloadKind.Json, outcome.Kind);
        Assert.Equal("1", request.Metadata["redacted"]);
        Assert.Single(h.Activity.Of(ActivityKinds.PostChange, "redact"));
    }

    [Fact]
    public async Task RunPost_UpstreamMessageForm_IsAccepted()
    {
        var h = new RunnerHarness();
        h.Registry.Service("up", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("up", ExtensionType.Post),
            """{"message":{"message_id":"m1","payload":{"content":"rewritten"}},"context":{"stage":"post"}}""");
        var request = Request();

        var outcome = await h.Runner.RunPostAsync(request, Steps(ExtensionStage.Post, ("up", ExtensionMode.Required)), Answer, PayloadKind.Json, default);

        Assert.Null(outcome.Error);
        Assert.Equal("""{"content":"rewritten"}""", Text(outcome.Answer));
        Assert.Equal("post", request.Metadata["stage"]);
    }

    [Fact]
    public async Task RunPost_BuiltInAndServiceInOrder_BothApply()
    {
        var h = new RunnerHarness();
        h.BuiltIns.Add(new MaskingStreamBuiltIn());
        h.Registry.Service("wrap", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("wrap", ExtensionType.Post), call => $$$"""{"payload":{"wrapped":{{{call.Payload.GetRawText()}}}}}""");

        var outcome = await h.Runner.RunPostAsync(Request(),
            Steps(ExtensionStage.Post, ("mask", ExtensionMode.Required), ("wrap", ExtensionMode.Required)), Answer, PayloadKind.Json, default);

        Assert.Null(outcome.Error);
        Assert.Equal("""{"wrapped":{"content":"my ****** is 42"}}""", Text(outcome.Answer));
    }

    [Fact]
    public async Task RunPost_UnchangedAnswer_EmitsNoPostChange()
    {
        var h = new RunnerHarness();
        h.Registry.Service("noop", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("noop", ExtensionType.Post), "{}");

        var outcome = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, ("noop", ExtensionMode.Required)), Answer, PayloadKind.Json, default);

        Assert.Null(outcome.Error);
        Assert.Equal(Answer, outcome.Answer.ToArray());
        Assert.Empty(h.Activity.Of(ActivityKinds.PostChange));
    }

    [Theory]
    [MemberData(nameof(ExtensionRunnerPreTests.ServiceFailures), MemberType = typeof(ExtensionRunnerPreTests))]
    public async Task RunPost_ServiceFails_RequiredErrsOptionalKeepsTheAnswer(string behaviour, string code)
    {
        var h = ExtensionRunnerPreTests.Failing(behaviour, ExtensionType.Post);

        var required = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, ("ext", ExtensionMode.Required)), Answer, PayloadKind.Json, default);
        var request = Request();
        var optional = await h.Runner.RunPostAsync(request, Steps(ExtensionStage.Post, ("ext", ExtensionMode.Optional)), Answer, PayloadKind.Json, default);

        Assert.Equal(code, required.Error?.Code);
        Assert.Contains("'ext'", required.Error!.Message, StringComparison.Ordinal);
        Assert.Null(optional.Error);
        Assert.Equal(Answer, optional.Answer.ToArray());
        Assert.Equal("ext", request.Metadata[ExtensionMetadataKeys.Skipped]);
    }

    [Fact]
    public async Task RunPost_Unknown_RequiredIsNotFoundOptionalSkipped()
    {
        var h = new RunnerHarness();

        var required = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, ("ghost", ExtensionMode.Required)), Answer, PayloadKind.Json, default);
        var optional = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, ("ghost", ExtensionMode.Optional)), Answer, PayloadKind.Json, default);

        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, required.Error?.Code);
        Assert.Null(optional.Error);
        Assert.Equal(Answer, optional.Answer.ToArray());
    }

    [Fact]
    public async Task RunPost_ObjectAnswerTurnedIntoArray_IsInvalidRequest()
    {
        var h = new RunnerHarness();
        h.BuiltIn("bad", ExtensionType.Post, _ => JsonReply("[1]"));

        var outcome = await h.Runner.RunPostAsync(Request(), Steps(ExtensionStage.Post, ("bad", ExtensionMode.Optional)), Answer, PayloadKind.Json, default);

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, outcome.Error?.Code);
        Assert.Contains("'bad'", outcome.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BeginPostStream_NoSteps_IsEmptyAndPassesThrough()
    {
        var h = new RunnerHarness();

        Assert.True(h.Runner.BeginPostStream(Request(), []).IsEmpty);
        Assert.True(h.Runner.BeginPostStream(Request(), default).IsEmpty);
    }

    [Fact]
    public async Task PostStream_StreamingBuiltIn_RewritesAcrossChunkBoundaries()
    {
        var h = new RunnerHarness();
        var mask = new MaskingStreamBuiltIn();
        h.BuiltIns.Add(mask);
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("mask", ExtensionMode.Required)));

        var output = await Run(stream, "my sec", "ret is 42, ", "another secr", "et");

        Assert.False(stream.IsEmpty);
        Assert.Equal("my ****** is 42, another ******", output);
        Assert.Equal(1, mask.Streams);
        Assert.Equal("ok", Assert.Single(h.Activity.Of(ActivityKinds.Extension, "mask")).Status);
        Assert.Single(h.Activity.Of(ActivityKinds.PostChange, "mask"));
    }

    [Fact]
    public async Task PostStream_Drain_ReturnsWhatIsHeldBackAndTheStreamGoesOn_ReportingOnceAtTheEnd()
    {
        var h = new RunnerHarness();
        h.BuiltIns.Add(new MaskingStreamBuiltIn());
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("mask", ExtensionMode.Required)));

        Assert.Equal("one ", await stream.PushAsync("one sec", CancellationToken.None));
        Assert.Equal("sec", await stream.DrainAsync(CancellationToken.None));
        Assert.Empty(h.Activity.Of(ActivityKinds.Extension, "mask"));
        Assert.Equal("two ", await stream.PushAsync("two secr", CancellationToken.None));
        Assert.Equal("******", await stream.PushAsync("et", CancellationToken.None));
        Assert.Equal(string.Empty, await stream.FlushAsync(CancellationToken.None));

        Assert.Equal("ok", Assert.Single(h.Activity.Of(ActivityKinds.Extension, "mask")).Status);
        Assert.Single(h.Activity.Of(ActivityKinds.PostChange, "mask"));
    }

    [Fact]
    public async Task PostStream_Service_IsCalledPerChunkWithItsIndex()
    {
        var h = new RunnerHarness();
        h.Registry.Service("shout", ExtensionType.Post);
        var subject = FakeRegistry.Subject("shout", ExtensionType.Post);
        h.Transport.Serve(subject, call => JsonSerializer.Serialize(new { payload = call.Payload.GetString()!.ToUpperInvariant() }));
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("shout", ExtensionMode.Required)));

        var output = await Run(stream, "hello ", "", "world");

        Assert.Equal("HELLO WORLD", output);
        var calls = h.Transport.Calls.ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Equal(["0", "1"], calls.Select(c => c.Meta(ExtensionMetadataKeys.StreamChunk)));
        Assert.All(calls, c => Assert.Equal("web", c.Meta("channel")));
        Assert.Equal(JsonValueKind.String, calls[0].Payload.ValueKind);
        Assert.Single(h.Activity.Of(ActivityKinds.PostChange, "shout"));
    }

    [Fact]
    public async Task PostStream_ServiceAfterStreamingBuiltIn_SeesTheRewrittenText()
    {
        var h = new RunnerHarness();
        h.BuiltIns.Add(new MaskingStreamBuiltIn());
        h.Registry.Service("shout", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("shout", ExtensionType.Post),
            call => JsonSerializer.Serialize(new { payload = call.Payload.GetString()!.ToUpperInvariant() }));
        var stream = h.Runner.BeginPostStream(Request(),
            Steps(ExtensionStage.Post, ("mask", ExtensionMode.Required), ("shout", ExtensionMode.Required)));

        var output = await Run(stream, "a secr", "et b");

        Assert.Equal("A ****** B", output);
        Assert.All(h.Transport.Calls, c => Assert.DoesNotContain("secr", c.Payload.GetString()!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PostStream_NonStreamingBuiltIn_IsCalledPerChunk()
    {
        var h = new RunnerHarness();
        var builtIn = h.BuiltIn("rev", ExtensionType.Post, input =>
        {
            Assert.Equal(PayloadKind.Text, input.PayloadKind);
            var text = Encoding.UTF8.GetString(input.Payload.Span);
            return new ExtensionReply { Payload = Encoding.UTF8.GetBytes(new string(text.Reverse().ToArray())), PayloadKind = PayloadKind.Text };
        });
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("rev", ExtensionMode.Required)));

        var output = await Run(stream, "abc", "de");

        Assert.Equal("cbaed", output);
        Assert.Equal(2, builtIn.Calls);
    }

    [Theory]
    [MemberData(nameof(ExtensionRunnerPreTests.ServiceFailures), MemberType = typeof(ExtensionRunnerPreTests))]
    public async Task PostStream_RequiredServiceFails_Throws(string behaviour, string code)
    {
        var h = ExtensionRunnerPreTests.Failing(behaviour, ExtensionType.Post);
        var stream = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("ext", ExtensionMode.Required)));

        var failed = await Assert.ThrowsAsync<ExtensionFailedException>(async () => await stream.PushAsync("text", default));

        Assert.Equal(code, failed.Error.Code);
        // The stream stays failed.
        await Assert.ThrowsAsync<ExtensionFailedException>(async () => await stream.FlushAsync(default));
    }

    [Theory]
    [MemberData(nameof(ExtensionRunnerPreTests.ServiceFailures), MemberType = typeof(ExtensionRunnerPreTests))]
    public async Task PostStream_OptionalServiceFails_PassesChunksUnchanged(string behaviour, string code)
    {
        _ = code;
        var h = ExtensionRunnerPreTests.Failing(behaviour, ExtensionType.Post);
        var request = Request();
        var stream = h.Runner.BeginPostStream(request, Steps(ExtensionStage.Post, ("ext", ExtensionMode.Optional)));

        var output = await Run(stream, "one ", "two");

        Assert.Equal("one two", output);
        Assert.Equal("ext", request.Metadata[ExtensionMetadataKeys.Skipped]);
    }

    [Fact]
    public async Task PostStream_ChunkReplyThatIsNotAString_IsMalformed()
    {
        var h = new RunnerHarness();
        h.Registry.Service("obj", ExtensionType.Post);
        h.Transport.Serve(FakeRegistry.Subject("obj", ExtensionType.Post), """{"payload":{"not":"a string"}}""");

        var required = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("obj", ExtensionMode.Required)));
        var optional = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("obj", ExtensionMode.Optional)));

        var failed = await Assert.ThrowsAsync<ExtensionFailedException>(async () => await required.PushAsync("x", default));
        Assert.Contains("malformed", failed.Error.Message, StringComparison.Ordinal);
        Assert.Equal("x", await Run(optional, "x"));
    }

    [Fact]
    public async Task PostStream_StreamingBuiltInThrows_RequiredThrowsOptionalBypasses()
    {
        var h = new RunnerHarness();
        h.BuiltIns.Add(new MaskingStreamBuiltIn("broken") { ThrowOnPush = true });

        var required = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("broken", ExtensionMode.Required)));
        var optional = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("broken", ExtensionMode.Optional)));

        var failed = await Assert.ThrowsAsync<ExtensionFailedException>(async () => await required.PushAsync("a secret", default));
        Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, failed.Error.Code);
        Assert.Equal("a secret b", await Run(optional, "a secret", " b"));
    }

    [Fact]
    public async Task PostStream_UnknownRequired_FailsAtTheFirstPush_UnknownOptionalIsSkipped()
    {
        var h = new RunnerHarness();
        var request = Request();

        var required = h.Runner.BeginPostStream(Request(), Steps(ExtensionStage.Post, ("ghost", ExtensionMode.Required)));
        var optional = h.Runner.BeginPostStream(request, Steps(ExtensionStage.Post, ("ghost", ExtensionMode.Optional)));

        Assert.False(required.IsEmpty);
        var failed = await Assert.ThrowsAsync<ExtensionFailedException>(async () => await required.PushAsync("x", default));
        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, failed.Error.Code);
        Assert.True(optional.IsEmpty);
        Assert.Equal("ghost", request.Metadata[ExtensionMetadataKeys.Skipped]);
    }

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
