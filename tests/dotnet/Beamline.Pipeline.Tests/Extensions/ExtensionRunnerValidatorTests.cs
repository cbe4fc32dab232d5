using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using static Beamline.Pipeline.Tests.Extensions.RunnerHarness;

namespace Beamline.Pipeline.Tests.Extensions;

public sealed class ExtensionRunnerValidatorTests
{
    private const string RejectReply = """{"status":"reject","reason":"contains a card number","details":{"field":"messages[0]"}}""";

    public static TheoryData<string, string, ValidatorFailAction> Matrix()
    {
        // source × behaviour × on_fail
        var data = new TheoryData<string, string, ValidatorFailAction>();
        foreach (var onFail in Enum.GetValues<ValidatorFailAction>())
        {
            foreach (var behaviour in new[] { "ok", "no-status", "reject", "slow", "dead", "not-json", "array", "error" })
            {
                data.Add("service", behaviour, onFail);
            }
            foreach (var behaviour in new[] { "ok", "reject", "throw" })
            {
                data.Add("builtin", behaviour, onFail);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task RunValidators_OutcomeFollowsOnFail(string source, string behaviour, ValidatorFailAction onFail)
    {
        var h = Validator(source, behaviour);
        var request = Request();

        var error = await h.Runner.RunValidatorsAsync(request, Validators(("v", onFail)), default);

        var passes = behaviour is "ok" or "no-status";
        var step = Assert.Single(h.Activity.Of(ActivityKinds.Extension, "v"));
        Assert.Equal("validator", step.Stage);
        if (passes)
        {
            Assert.Null(error);
            Assert.False(request.Metadata.ContainsKey(ExtensionMetadataKeys.ValidatorWarnings));
            Assert.Equal("ok", step.Status);
            return;
        }
        Assert.NotEqual("ok", step.Status);
        switch (onFail)
        {
            case ValidatorFailAction.Block:
                Assert.NotNull(error);
                Assert.Equal(Cp1ErrorCodes.ValidatorBlocked, error.Code);
                Assert.Equal(403, error.HttpStatus);
                Assert.Contains("'v'", error.Message, StringComparison.Ordinal);
                var details = error.Details!.Value;
                Assert.Equal("v", details.GetProperty("validator").GetString());
                Assert.False(string.IsNullOrEmpty(details.GetProperty("reason").GetString()));
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
    public async Task RunValidators_Reject_ReportsReasonAndDetails()
    {
        var h = Validator("service", "reject");

        var error = await h.Runner.RunValidatorsAsync(Request(), Validators(("v", ValidatorFailAction.Block)), default);

        Assert.NotNull(error);
        Assert.Contains("contains a card number", error.Message, StringComparison.Ordinal);
        var details = error.Details!.Value;
        Assert.Equal("contains a card number", details.GetProperty("reason").GetString());
        Assert.Equal("messages[0]", details.GetProperty("details").GetProperty("field").GetString());
    }

    [Fact]
    public async Task RunValidators_AllStartAtOnce_OverlapInFlight()
    {
        var h = new RunnerHarness();
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        foreach (var id in new[] { "v1", "v2", "v3" })
        {
            h.Registry.Service(id, ExtensionType.Validator, timeoutMs: 30_000);
            h.Transport.Serve(FakeRegistry.Subject(id, ExtensionType.Validator), async (_, ct) =>
            {
                if (Interlocked.Increment(ref arrived) == 3)
                {
                    allArrived.SetResult();
                }
                // Answers only once all three are in flight: run one by one, the first would wait forever.
                await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(20), ct);
                return """{"status":"ok"}""";
            });
        }

        var error = await h.Runner.RunValidatorsAsync(Request(),
            Validators(("v1", ValidatorFailAction.Block), ("v2", ValidatorFailAction.Block), ("v3", ValidatorFailAction.Block)), default);

        Assert.Null(error);
        Assert.Equal(3, h.Transport.MaxInFlight);
    }

    [Fact]
    public async Task RunValidators_SeveralBlock_ReportsTheFirstInPolicyOrder()
    {
        var h = new RunnerHarness();
        var secondDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Registry.Service("first", ExtensionType.Validator, timeoutMs: 30_000);
        h.Registry.Service("second", ExtensionType.Validator, timeoutMs: 30_000);
        h.Transport.Serve(FakeRegistry.Subject("first", ExtensionType.Validator), async (_, ct) =>
        {
            // The first in policy order answers last.
            await secondDone.Task.WaitAsync(ct);
            return """{"status":"reject","reason":"first says no"}""";
        });
        h.Transport.Serve(FakeRegistry.Subject("second", ExtensionType.Validator), _ =>
        {
            secondDone.SetResult();
            return """{"status":"reject","reason":"second says no"}""";
        });

        var error = await h.Runner.RunValidatorsAsync(Request(),
            Validators(("first", ValidatorFailAction.Block), ("second", ValidatorFailAction.Block)), default);

        Assert.NotNull(error);
        Assert.Contains("'first'", error.Message, StringComparison.Ordinal);
        Assert.Contains("first says no", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunValidators_WarnAndBlock_BlockWinsAndWarningsAreRecorded()
    {
        var h = new RunnerHarness();
        h.BuiltIn("w1", ExtensionType.Validator, _ => new ExtensionReply { Rejected = true, Reason = "meh" });
        h.BuiltIn("ok", ExtensionType.Validator, _ => ExtensionReply.Unchanged);
        h.BuiltIn("w2", ExtensionType.Validator, _ => new ExtensionReply { Rejected = true, Reason = "meh too" });
        h.BuiltIn("b", ExtensionType.Validator, _ => new ExtensionReply { Rejected = true, Reason = "no" });
        var request = Request();

        var warnOnly = await h.Runner.RunValidatorsAsync(request,
            Validators(("w1", ValidatorFailAction.Warn), ("ok", ValidatorFailAction.Block), ("w2", ValidatorFailAction.Warn)), default);
        var blocked = await h.Runner.RunValidatorsAsync(Request(),
            Validators(("w1", ValidatorFailAction.Warn), ("b", ValidatorFailAction.Block)), default);

        Assert.Null(warnOnly);
        Assert.Equal("w1,w2", request.Metadata[ExtensionMetadataKeys.ValidatorWarnings]);
        Assert.Equal(Cp1ErrorCodes.ValidatorBlocked, blocked?.Code);
        Assert.Contains("'b'", blocked!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ValidatorFailAction.Warn)]
    [InlineData(ValidatorFailAction.Ignore)]
    public async Task RunValidators_UnknownNotBlocking_IsSkipped(ValidatorFailAction onFail)
    {
        var h = new RunnerHarness();
        h.BuiltIn("ok", ExtensionType.Validator, _ => ExtensionReply.Unchanged);
        var request = Request();

        var error = await h.Runner.RunValidatorsAsync(request, Validators(("ghost", onFail), ("ok", ValidatorFailAction.Block)), default);

        Assert.Null(error);
        Assert.Equal("ghost", request.Metadata[ExtensionMetadataKeys.Skipped]);
        Assert.Equal("skipped", Assert.Single(h.Activity.Of(ActivityKinds.Extension, "ghost")).Status);
    }

    [Fact]
    public async Task RunValidators_UnknownBlocking_IsExtensionNotFound_AndNothingIsCalled()
    {
        var h = new RunnerHarness();
        var builtIn = h.BuiltIn("ok", ExtensionType.Validator, _ => ExtensionReply.Unchanged);

        var error = await h.Runner.RunValidatorsAsync(Request(), Validators(("ok", ValidatorFailAction.Block), ("ghost", ValidatorFailAction.Block)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionNotFound, error?.Code);
        Assert.Contains("'ghost'", error!.Message, StringComparison.Ordinal);
        Assert.Equal(0, builtIn.Calls);
    }

    [Fact]
    public async Task RunValidators_SeeThePayloadAndMetadata()
    {
        var h = new RunnerHarness();
        h.Registry.Service("v", ExtensionType.Validator);
        h.Transport.Serve(FakeRegistry.Subject("v", ExtensionType.Validator), call =>
            call.Payload.GetProperty("messages")[0].GetProperty("content").GetString() == "hi" && call.Meta("channel") == "web"
                ? """{"status":"ok"}"""
                : RejectReply);

        Assert.Null(await h.Runner.RunValidatorsAsync(Request(), Validators(("v", ValidatorFailAction.Block)), default));
    }

    [Fact]
    public async Task RunValidators_CancelledRequest_Throws()
    {
        var h = new RunnerHarness();
        h.Registry.Service("v", ExtensionType.Validator, timeoutMs: 30_000);
        h.Transport.Serve(FakeRegistry.Subject("v", ExtensionType.Validator), async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return "{}";
        });
        using var cancel = new CancellationTokenSource();
        var run = h.Runner.RunValidatorsAsync(Request(), Validators(("v", ValidatorFailAction.Ignore)), cancel.Token);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await run);
    }

    /// <summary>A harness with one validator "v" that behaves as <paramref name="behaviour"/> says.</summary>
    private static RunnerHarness Validator(string source, string behaviour)
    {
        if (source == "builtin")
        {
            var h = new RunnerHarness();
            h.BuiltIn("v", ExtensionType.Validator, behaviour switch
            {
                "ok" => _ => ExtensionReply.Unchanged,
                "reject" => _ => new ExtensionReply
                {
                    Rejected = true,
                    Reason = "contains a card number",
                    Details = JsonDocument.Parse("""{"field":"messages[0]"}""").RootElement.Clone(),
                },
                _ => _ => throw new InvalidOperationException("validator bug"),
            });
            return h;
        }
        switch (behaviour)
        {
            case "ok" or "no-status" or "reject":
                var service = new RunnerHarness();
                service.Registry.Service("v", ExtensionType.Validator);
                service.Transport.Serve(FakeRegistry.Subject("v", ExtensionType.Validator),
                    behaviour == "ok" ? """{"status":"ok"}""" : behaviour == "no-status" ? """{"note":"fine"}""" : RejectReply);
                return service;
            default:
                return ExtensionRunnerPreTests.Failing(behaviour, ExtensionType.Validator, "v");
        }
    }
}
