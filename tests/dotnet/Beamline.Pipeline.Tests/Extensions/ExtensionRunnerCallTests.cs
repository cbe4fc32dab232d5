using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;
using Beamline.Testing;
using static Beamline.Pipeline.Tests.Extensions.RunnerHarness;

namespace Beamline.Pipeline.Tests.Extensions;

/// <summary>Timeouts, retries, breakers and health: what every call goes through.</summary>
public sealed class ExtensionRunnerCallTests
{
    private static readonly string PreSubject = FakeRegistry.Subject("ext", ExtensionType.Pre);

    [Fact]
    public async Task Call_SlowService_TimesOutWithinTimeoutMs()
    {
        var h = ExtensionRunnerPreTests.Failing("slow");

        var error = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionTimeout, error?.Code);
        Assert.Equal(504, error!.HttpStatus);
        Assert.Equal("timeout", Assert.Single(h.Activity.Of(ActivityKinds.Extension)).Status);
        var health = Assert.Single(h.Runner.Health());
        Assert.Equal((1L, 1L, 1L), (health.Calls, health.Failures, health.Timeouts));
    }

    [Fact]
    public async Task Call_ReplyAfterTheTimeout_IsIgnored()
    {
        var h = new RunnerHarness();
        h.Registry.Service("ext", ExtensionType.Pre, timeoutMs: 50);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Transport.Serve(PreSubject, async (_, _) =>
        {
            // Ignores cancellation and answers only when the test lets it, long after the timeout.
            await release.Task;
            answered.SetResult();
            return """{"payload":{"late":true}}""";
        });
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);
        release.SetResult();
        await answered.Task;

        Assert.Equal(Cp1ErrorCodes.ExtensionTimeout, error?.Code);
        Assert.Equal(Request().Payload.ToArray(), request.Payload.ToArray());
    }

    [Fact]
    public async Task Call_Retry_RetriesFailedAttemptsUntilOneSucceeds()
    {
        var h = new RunnerHarness();
        h.Registry.Service("ext", ExtensionType.Pre, retry: 2);
        h.Transport.Serve(PreSubject, call => call.Number < 3 ? "not json" : """{"payload":{"attempt":3}}""");
        var request = Request();

        var error = await h.Runner.RunPreAsync(request, Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);

        Assert.Null(error);
        Assert.Equal("""{"attempt":3}""", Text(request.Payload));
        Assert.Equal(3, h.Transport.CountOf(PreSubject));
        var health = Assert.Single(h.Runner.Health());
        Assert.Equal((3L, 2L), (health.Calls, health.Failures));
        // One step, one event.
        Assert.Equal("ok", Assert.Single(h.Activity.Of(ActivityKinds.Extension)).Status);
    }

    [Fact]
    public async Task Call_RetriesExhausted_FailsWithTheLastFailure()
    {
        var h = ExtensionRunnerPreTests.Failing("slow");
        h.Registry.Service("ext", ExtensionType.Pre, timeoutMs: 50, retry: 1);

        var error = await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionTimeout, error?.Code);
        Assert.Equal(2, h.Transport.CountOf(PreSubject));
        Assert.Equal(2, Assert.Single(h.Runner.Health()).Timeouts);
    }

    [Fact]
    public async Task Call_CancelledRequest_StopsRetryingAndThrows()
    {
        var h = ExtensionRunnerPreTests.Failing("slow");
        h.Registry.Service("ext", ExtensionType.Pre, timeoutMs: 30_000, retry: 5);
        using var cancel = new CancellationTokenSource();

        var run = h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), cancel.Token);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await run);
        Assert.Equal(1, h.Transport.CountOf(PreSubject));
    }

    [Fact]
    public async Task Breaker_OpensAfterConsecutiveFailures_FailsFastWithoutCalling_ThenHalfOpenTrialCloses()
    {
        var time = new ManualTimeProvider();
        var h = new RunnerHarness { Time = time, Options = new ExtensionRunnerOptions { BreakerFailureThreshold = 3, BreakerOpenTime = TimeSpan.FromSeconds(5) } };
        h.Registry.Service("ext", ExtensionType.Pre);
        var healthy = false;
        h.Transport.Serve(PreSubject, _ => Volatile.Read(ref healthy) ? "{}" : "[]");
        var steps = Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, (await h.Runner.RunPreAsync(Request(), steps, default))?.Code);
        }
        Assert.Equal("open", Assert.Single(h.Runner.Health()).Breaker);

        var fast = await h.Runner.RunPreAsync(Request(), steps, default);
        Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, fast?.Code);
        Assert.Contains("circuit breaker", fast!.Message, StringComparison.Ordinal);
        Assert.Equal(3, h.Transport.CountOf(PreSubject));
        Assert.Equal("unavailable", h.Activity.Of(ActivityKinds.Extension).Last().Status);

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("half_open", Assert.Single(h.Runner.Health()).Breaker);
        Volatile.Write(ref healthy, true);

        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));
        Assert.Equal("closed", Assert.Single(h.Runner.Health()).Breaker);
        Assert.Equal(4, h.Transport.CountOf(PreSubject));
    }

    [Fact]
    public async Task Breaker_FailedHalfOpenTrial_ReopensIt()
    {
        var time = new ManualTimeProvider();
        var h = new RunnerHarness { Time = time, Options = new ExtensionRunnerOptions { BreakerFailureThreshold = 2 } };
        var calls = 0;
        h.BuiltIn("ext", ExtensionType.Pre, _ =>
        {
            calls++;
            throw new InvalidOperationException("still broken");
        });
        var steps = Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Optional));

        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));
        }
        Assert.Equal(2, calls);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));
        Assert.Null(await h.Runner.RunPreAsync(Request(), steps, default));

        Assert.Equal(3, calls);
        var health = Assert.Single(h.Runner.Health());
        Assert.Equal("open", health.Breaker);
        Assert.Equal("builtin", health.Source);
        Assert.Contains("still broken", health.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Breaker_IsPerExtension()
    {
        var h = new RunnerHarness { Options = new ExtensionRunnerOptions { BreakerFailureThreshold = 1 } };
        h.Registry.Service("bad", ExtensionType.Pre);
        h.Registry.Service("good", ExtensionType.Pre);
        h.Transport.Serve(FakeRegistry.Subject("good", ExtensionType.Pre), "{}");

        await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("bad", ExtensionMode.Optional)), default);

        Assert.Null(await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("good", ExtensionMode.Required)), default));
        var health = h.Runner.Health();
        Assert.Equal(["open", "closed"], health.Select(x => x.Breaker));
    }

    [Fact]
    public async Task Health_ListsEveryRegistryEntryAndBuiltInOrderedById()
    {
        var time = new ManualTimeProvider();
        var h = new RunnerHarness { Time = time };
        h.Registry.Service("z-svc", ExtensionType.Validator);
        h.Registry.Add(new ExtensionEntry { Id = "off", Type = ExtensionType.Post, Subject = "beamline.ext.post.off.v1", Enabled = false });
        h.BuiltIn("a-builtin", ExtensionType.Pre, _ => ExtensionReply.Unchanged);
        h.Transport.Serve(FakeRegistry.Subject("z-svc", ExtensionType.Validator), """{"status":"reject","reason":"no"}""");

        await h.Runner.RunValidatorsAsync(Request(), Validators(("z-svc", ValidatorFailAction.Ignore)), default);
        await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("a-builtin", ExtensionMode.Required)), default);

        var health = h.Runner.Health();
        Assert.Equal(["a-builtin", "off", "z-svc"], health.Select(x => x.Id));
        var builtIn = health[0];
        Assert.Equal(("builtin", ExtensionType.Pre, null, 1L, 0L, "closed"),
            (builtIn.Source, builtIn.Type, builtIn.Subject, builtIn.Calls, builtIn.Failures, builtIn.Breaker));
        Assert.NotNull(builtIn.P50Ms);
        Assert.NotNull(builtIn.P99Ms);
        var off = health[1];
        Assert.Equal(("nats", 0L, (double?)null), (off.Source, off.Calls, off.P50Ms));
        var service = health[2];
        // A rejection is an answer, not a failure.
        Assert.Equal(("nats", "beamline.ext.validate.z-svc.v1", 1L, 0L), (service.Source, service.Subject, service.Calls, service.Failures));
        Assert.Null(service.LastError);
    }

    [Fact]
    public async Task Health_RecordsTheLastError()
    {
        var time = new ManualTimeProvider();
        var h = new RunnerHarness { Time = time };
        h.Registry.Service("ext", ExtensionType.Pre);
        h.Transport.Serve(PreSubject, "nope");

        await h.Runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Optional)), default);

        var health = Assert.Single(h.Runner.Health());
        Assert.Equal((1L, 1L, 0L), (health.Calls, health.Failures, health.Timeouts));
        Assert.Contains("not JSON", health.LastError, StringComparison.Ordinal);
        Assert.Equal(time.GetUtcNow(), health.LastErrorAt);
    }

    [Fact]
    public async Task Health_LatencyWindowIsBounded()
    {
        var h = new RunnerHarness();
        h.BuiltIn("b", ExtensionType.Pre, _ => ExtensionReply.Unchanged);
        var steps = Steps(ExtensionStage.Pre, ("b", ExtensionMode.Required));

        for (var i = 0; i < 1500; i++)
        {
            await h.Runner.RunPreAsync(Request(), steps, default);
        }

        var health = Assert.Single(h.Runner.Health());
        Assert.Equal(1500, health.Calls);
        Assert.True(health.P50Ms <= health.P99Ms);
    }

    [Fact]
    public async Task Call_NoTransport_ServiceIsUnavailable()
    {
        var registry = new FakeRegistry().Service("ext", ExtensionType.Pre);
        var runner = new ExtensionRunner(registry, [], null, NullActivitySink.Instance, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ExtensionRunner>.Instance);

        var error = await runner.RunPreAsync(Request(), Steps(ExtensionStage.Pre, ("ext", ExtensionMode.Required)), default);

        Assert.Equal(Cp1ErrorCodes.ExtensionUnavailable, error?.Code);
    }
}
