using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using static Beamline.Pipeline.Tests.Extensions.RunnerHarness;

namespace Beamline.Pipeline.Tests.Extensions;

public sealed class ExtensionRunnerPreTests
{
    private const string Rewritten = """{"messages":[{"role":"user","content":"HI"}]}""";

    [Theory]
    [InlineData(ExtensionMode.Required)]
    [InlineData(ExtensionMode.Optional)]
    public async Task RunPre_BuiltInRewrites_ReplacesPayloadAndMergesMetadata(ExtensionMode mode)
    {
        var h = new RunnerHarness();
        h.BuiltIn("upper", ExtensionType.Pre, _ => JsonReply(Rewritten, new() { ["normalized"] = "true", ["channel"] = "api" }));
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("upper", mode)), default);

        Assert.Null(error);
        Assert.Equal(Rewritten, Text(request.Payload));
        Assert.Equal(PayloadKind.Json, request.PayloadKind);
        Assert.Equal("true", request.Metadata["normalized"]);
        Assert.Equal("api", request.Metadata["channel"]);
    }

    [Theory]
    [InlineData(ExtensionMode.Required)]
    [InlineData(ExtensionMode.Optional)]
    public async Task RunPre_ServiceRewrites_ReplacesPayloadAndMergesMetadata(ExtensionMode mode)
    {
        var h = new RunnerHarness();
        h.Registry.Service("upper", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("upper", ExtensionType.Pre), $$$"""{"payload":{{{Rewritten}}},"metadata":{"normalized":true,"by":"svc"}}""");
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("upper", mode)), default);

        Assert.Null(error);
        Assert.Equal(Rewritten, Text(request.Payload));
        Assert.Equal("true", request.Metadata["normalized"]);
        Assert.Equal("svc", request.Metadata["by"]);
        Assert.Equal("web", request.Metadata["channel"]);
    }

    [Fact]
    public async Task RunPre_Steps_RunInOrderEachSeeingThePreviousPayload()
    {
        var h = new RunnerHarness();
        h.BuiltIn("first", ExtensionType.Pre, _ => JsonReply("""{"step":1}""", new() { ["first"] = "done" }));
        h.Registry.Service("second", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("second", ExtensionType.Pre), call =>
            $$$"""{"payload":{"step":2,"saw":{{{call.Payload.GetRawText()}}},"first":"{{{call.Meta("first")}}}"}}""");
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("first", ExtensionMode.Required), ("second", ExtensionMode.Required)), default);

        Assert.Null(error);
        Assert.Equal("""{"step":2,"saw":{"step":1},"first":"done"}""", Text(request.Payload));
    }

    [Fact]
    public async Task RunPre_ServiceRequest_CarriesTheCp1FieldsAndNoConfig()
    {
        var h = new RunnerHarness();
        h.Registry.Service("look", ExtensionType.Pre, config: """{"secret_key":"sk-1"}""");
        h.Transport.Serve(FakeRegistry.Subject("look", ExtensionType.Pre), "{}");
        var steps = Steps(ExtensionStage.Pre, ("look", ExtensionMode.Required))
            .Select(s => s with { Config = JsonDocument.Parse("""{"api_key":"x"}""").RootElement.Clone() }).ToImmutableArray();
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, steps, default));

        var sent = Assert.Single(h.Transport.Calls).Request;
        Assert.Equal(["trace_id", "tenant_id", "request_id", "payload", "metadata"], sent.EnumerateObject().Select(p => p.Name));
        Assert.Equal("trace-1", sent.GetProperty("trace_id").GetString());
        Assert.Equal("tenant-a", sent.GetProperty("tenant_id").GetString());
        Assert.Equal("req-1", sent.GetProperty("request_id").GetString());
        Assert.Equal(JsonValueKind.Object, sent.GetProperty("payload").ValueKind);
        Assert.Equal("web", sent.GetProperty("metadata").GetProperty("channel").GetString());
        Assert.DoesNotContain("sk-1", sent.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("api_key", sent.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(5), h.Transport.Calls.Single().Timeout);
    }

    [Fact]
    public async Task RunPre_BuiltIn_GetsEntryConfigWithStepConfigMergedOver()
    {
        var h = new RunnerHarness();
        h.Registry.Add(new ExtensionEntry
        {
            Id = "cfg",
            Type = ExtensionType.Pre,
            Config = JsonDocument.Parse("""{"a":1,"b":2}""").RootElement.Clone(),
        });
        var builtIn = h.BuiltIn("cfg", ExtensionType.Pre, _ => ExtensionReply.Unchanged);
        var steps = Steps(ExtensionStage.Pre, ("cfg", ExtensionMode.Required))
            .Select(s => s with { Config = JsonDocument.Parse("""{"b":3,"c":4}""").RootElement.Clone() }).ToImmutableArray();

        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));
        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));

        var config = builtIn.LastInput!.Config!.Value;
        Assert.Equal(1, config.GetProperty("a").GetInt32());
        Assert.Equal(3, config.GetProperty("b").GetInt32());
        Assert.Equal(4, config.GetProperty("c").GetInt32());
    }

    public static TheoryData<string, string> ServiceFailures => new()
    {
        // behaviour, the error code of a required step
        { "slow", Cp1ErrorCodes.ExtensionTimeout },
        { "dead", Cp1ErrorCodes.ExtensionUnavailable },
        { "not-json", Cp1ErrorCodes.ExtensionUnavailable },
        { "array", Cp1ErrorCodes.ExtensionUnavailable },
        { "error", Cp1ErrorCodes.ExtensionUnavailable },
    };

    [Theory]
    [MemberData(nameof(ServiceFailures))]
    public async Task RunPre_RequiredServiceFails_FailsTheRequestNamingIt(string behaviour, string code)
    {
        var h = Failing(behaviour);
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);

        Assert.NotNull(error);
        Assert.Equal(code, error.Code);
        Assert.Contains("'ext'", error.Message, StringComparison.Ordinal);
        Assert.Equal(Request().Payload.ToArray(), request.Payload.ToArray());
    }

    [Theory]
    [MemberData(nameof(ServiceFailures))]
    public async Task RunPre_OptionalServiceFails_SkipsIt(string behaviour, string code)
    {
        _ = code;
        var h = Failing(behaviour);
        h.BuiltIn("after", ExtensionType.Pre, _ => new ExtensionReply { Metadata = new Dictionary<string, string> { ["after"] = "ran" } });
        var request = Request();

        var error = await h.Runner.RunPreAsync(request,
            Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Optional), ("after", ExtensionMode.Required)), default);

        Assert.Null(error);
        Assert.Equal(Request().Payload.ToArray(), request.Payload.ToArray());
        Assert.Equal("ext", request.Metadata[ExtensionMetadataKeys.Skipped]);
        Assert.Equal("ran", request.Metadata["after"]);
        var step = Assert.Single(h.Activity.Of(ActivityKinds.Extension, "ext"));
        Assert.NotEqual("ok", step.Status);
    }

    [Fact]
    public async Task RunPre_RequiredBuiltInThrows_IsExtensionUnavailable()
    {
        var h = new RunnerHarness();
        h.BuiltIn("boom", ExtensionType.Pre, _ => throw new InvalidOperationException("bug"));

        var error = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("boom", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, error?.Code);
        Assert.Contains("bug", error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunPre_OptionalBuiltInThrows_IsSkipped()
    {
        var h = new RunnerHarness();
        h.BuiltIn("boom", ExtensionType.Pre, _ => throw new InvalidOperationException("bug"));
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("boom", ExtensionMode.Optional)), default));
        Assert.Equal("boom", request.Metadata[ExtensionMetadataKeys.Skipped]);
        Assert.Equal("error", Assert.Single(h.Activity.Of(ActivityKinds.Extension)).Status);
    }

    [Fact]
    public async Task RunPre_UnknownRequired_IsExtensionNotFound()
    {
        var h = new RunnerHarness();

        var error = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("nobody", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, error?.Code);
        Assert.Contains("'nobody'", error!.Message, StringComparison.Ordinal);
        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, Assert.Single(h.Activity.Of(ActivityKinds.Extension)).Status);
    }

    [Fact]
    public async Task RunPre_UnknownOptional_IsSkippedAndRecorded()
    {
        var h = new RunnerHarness();
        var request = Request();

        var error = await h.Runner.RunPreAsync(request,
            Steps(ExtensionStage.Pre, ("nobody", ExtensionMode.Optional), ("nobody2", ExtensionMode.Optional)), default);

        Assert.Null(error);
        Assert.Equal("nobody,nobody2", request.Metadata[ExtensionMetadataKeys.Skipped]);
        Assert.All(h.Activity.Of(ActivityKinds.Extension), e => Assert.Equal("skipped", e.Status));
    }

    [Fact]
    public async Task RunPre_RegistryIsLive_AnEntryAddedLaterIsFound()
    {
        var h = new RunnerHarness();
        var steps = Steps(ExtensionStage.Pre, ("late", ExtensionMode.Required));
        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, (await h.Runner.RunPreAsync(Request(), steps, default))?.Code);

        h.Registry.Service("late", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("late", ExtensionType.Pre), "{}");

        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));
    }

    [Fact]
    public async Task RunPre_EntryWithSubject_OverridesTheBuiltInOfThatId()
    {
        var h = new RunnerHarness();
        var builtIn = h.BuiltIn("same", ExtensionType.Pre, _ => JsonReply("""{"by":"builtin"}"""));
        h.Registry.Service("same", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("same", ExtensionType.Pre), """{"payload":{"by":"service"}}""");
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("same", ExtensionMode.Required)), default));

        Assert.Equal("""{"by":"service"}""", Text(request.Payload));
        Assert.Equal(0, builtIn.Calls);
    }

    [Fact]
    public async Task RunPre_DisabledEntry_IsNotRegistered_TheBuiltInRuns()
    {
        var h = new RunnerHarness();
        h.BuiltIn("same", ExtensionType.Pre, _ => JsonReply("""{"by":"builtin"}"""));
        h.Registry.Add(new ExtensionEntry { Id = "same", Type = ExtensionType.Pre, Subject = "beamline.ext.pre.same.v1", Enabled = false });
        h.Registry.Add(new ExtensionEntry { Id = "off", Type = ExtensionType.Pre, Subject = "beamline.ext.pre.off.v1", Enabled = false });
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("same", ExtensionMode.Required)), default));
        Assert.Equal("""{"by":"builtin"}""", Text(request.Payload));
        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound,
            (await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("off", ExtensionMode.Required)), default))?.Code);
        Assert.Equal(0, h.Transport.CountOf("beamline.ext.pre.same.v1"));
    }

    [Theory]
    [InlineData("""{"payload":[1,2]}""")]
    [InlineData("""{"payload":"just text"}""")]
    [InlineData("""{"payload":42}""")]
    public async Task RunPre_ServiceTurnsTheObjectIntoSomethingElse_IsInvalidRequest(string reply)
    {
        var h = new RunnerHarness();
        h.Registry.Service("bad", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("bad", ExtensionType.Pre), reply);

        foreach (var mode in new[] { ExtensionMode.Required, ExtensionMode.Optional })
        {
            var request = Request();
            var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("bad", mode)), default);

            Assert.Equal(Cp1ErrorCodes.InvalidRequest, error?.Code);
            Assert.Contains("'bad'", error!.Message, StringComparison.Ordinal);
            Assert.Equal(Request().Payload.ToArray(), request.Payload.ToArray());
        }
    }

    [Fact]
    public async Task RunPre_BuiltInReturnsInvalidJson_IsInvalidRequest()
    {
        var h = new RunnerHarness();
        h.BuiltIn("bad", ExtensionType.Pre, _ => JsonReply("""{"unterminated":"""));

        var error = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("bad", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, error?.Code);
        Assert.Contains("not valid JSON", error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunPre_TextPayload_IsSentAsAStringAndRewrittenAsText()
    {
        var h = new RunnerHarness();
        h.Registry.Service("shout", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("shout", ExtensionType.Pre), call =>
            JsonSerializer.Serialize(new { payload = call.Payload.GetString()!.ToUpperInvariant() }));
        var request = Request("hello there", PayloadKind.Text);

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("shout", ExtensionMode.Required)), default));

        Assert.Equal("HELLO THERE", Text(request.Payload));
        Assert.Equal(PayloadKind.Text, request.PayloadKind);
    }

    [Fact]
    public async Task RunPre_BinaryPayload_IsSentAsBase64AndRewrittenAsBytes()
    {
        var h = new RunnerHarness();
        h.Registry.Service("bin", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("bin", ExtensionType.Pre), call =>
        {
            var bytes = call.Payload.GetBytesFromBase64();
            Array.Reverse(bytes);
            return JsonSerializer.Serialize(new { payload = Convert.ToBase64String(bytes) });
        });
        var request = Request();
        request.Payload = new byte[] { 1, 2, 3, 0xff };
        request.PayloadKind = PayloadKind.Binary;

        Assert.Null(await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("bin", ExtensionMode.Required)), default));

        Assert.Equal(new byte[] { 0xff, 3, 2, 1 }, request.Payload.ToArray());
        Assert.Equal(PayloadKind.Binary, request.PayloadKind);
    }

    [Fact]
    public async Task RunPre_EveryStep_EmitsAnExtensionEvent()
    {
        var h = new RunnerHarness();
        h.BuiltIn("a", ExtensionType.Pre, _ => ExtensionReply.Unchanged);

        Assert.Null(await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("a", ExtensionMode.Required)), default));

        var e = Assert.Single(h.Activity.Events);
        Assert.Equal((ActivityKinds.Extension, "pre", "a", "ok", "tenant-a", "req-1", "trace-1"),
            (e.Kind, e.Stage, e.Subject, e.Status, e.TenantId, e.RequestId, e.TraceId));
        Assert.NotNull(e.LatencyMs);
    }

    [Fact]
    public async Task RunPre_NoSteps_ChangesNothing()
    {
        var h = new RunnerHarness();
        var request = Request();

        Assert.Null(await h.Runner.RunPreAsync(request, [], default));
        Assert.Null(await h.Runner.RunPreAsync(request, default, default));
        Assert.Empty(h.Activity.Events);
        Assert.Single(request.Metadata);
    }

    /// <summary>
    /// A harness whose service <paramref name="id"/> misbehaves as <paramref name="behaviour"/> says; its
    /// timeout is 100 ms when slow (it never answers), ample otherwise.
    /// </summary>
    internal static RunnerHarness Failing(string behaviour, ExtensionType type = ExtensionType.Pre, string id = "ext")
    {
        var h = new RunnerHarness();
        h.Registry.Service(id, type, timeoutMs: behaviour == "slow" ? 100 : 30_000);
        var subject = FakeRegistry.Subject(id, type);
        switch (behaviour)
        {
            case "slow":
                h.Transport.Serve(subject, async (_, ct) =>
                {
                    await Task.Delay(Timeout.Infinite, ct);
                    return "{}";
                });
                break;
            case "dead":
                break;
            case "not-json":
                h.Transport.Serve(subject, "this is not json");
                break;
            case "array":
                h.Transport.Serve(subject, "[1,2,3]");
                break;
            case "error":
                h.Transport.Serve(subject, """{"error":{"code":"boom","message":"it broke"}}""");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(behaviour));
        }
        return h;
    }

    internal static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
