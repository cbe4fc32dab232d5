using Beamline.Dispatch.InProcess;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Dispatch.Tests.InProcess;

/// <summary>
/// In-process blocks are bounded like blocks on a worker: a deadline always applies (the pool's
/// maximum when none is given), and a pool full of slow blocks holds up neither other pools nor
/// the thread pool.
/// </summary>
public sealed class InProcessBlockDispatcherTests
{
    private static InProcessBlockDispatcher Create(Action<DispatchOptions>? configure = null)
    {
        var options = new DispatchOptions();
        options.InProcess.Pools["io"] = 2;
        options.InProcess.ExecutorConfigFile = DiagnosticExecutors.ConfigFile;
        configure?.Invoke(options);
        return new InProcessBlockDispatcher(Options.Create(options), NullLogger<InProcessBlockDispatcher>.Instance);
    }

    private static ExecRequest Sleep(string pool, int ms, uint deadlineMs = 0) => new()
    {
        BlockId = Guid.NewGuid().ToString("N"),
        TenantId = "tenant-a",
        Type = "debug.sleep",
        Pool = pool,
        Payload = ByteString.CopyFromUtf8(ms.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        DeadlineMs = deadlineMs,
    };

    [Fact]
    public async Task Block_WithoutDeadline_GetsThePoolsMaximum()
    {
        using var dispatcher = Create(o => o.PoolMaxDeadlines["io"] = TimeSpan.FromMilliseconds(300));

        var result = await dispatcher.DispatchAsync(Sleep("io", 3_600_000), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ExecStatus.Timeout, result.Status);
        Assert.Equal(ExecErrorCodes.DeadlineExceeded, result.ErrorCode);
    }

    [Fact]
    public async Task Block_AskingForMoreThanTheMaximum_IsCutToIt()
    {
        using var dispatcher = Create(o => o.MaxDeadline = TimeSpan.FromMilliseconds(300));

        var result = await dispatcher.DispatchAsync(Sleep("io", 3_600_000, deadlineMs: 3_600_000), CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ExecErrorCodes.DeadlineExceeded, result.ErrorCode);
    }

    [Fact]
    public async Task SlowBlocksFillingThePool_DoNotHoldUpAnotherPool()
    {
        using var dispatcher = Create();
        var slow = Enumerable.Range(0, 2).Select(_ => dispatcher.DispatchAsync(Sleep("io", 3000), CancellationToken.None).AsTask()).ToArray();
        await Task.Delay(200);

        var echo = await dispatcher.DispatchAsync(new ExecRequest { BlockId = "echo", Type = "echo", Pool = "cpu", Payload = ByteString.CopyFromUtf8("hi") },
            CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ExecStatus.Ok, echo.Status);
        Assert.All(slow, s => Assert.False(s.IsCompleted)); // answered while the io pool was still busy
        await Task.WhenAll(slow);
    }

    [Fact]
    public async Task RunningBlock_WhoseCallerWentAway_IsStopped()
    {
        using var dispatcher = Create();
        using var gone = new CancellationTokenSource();
        var running = dispatcher.DispatchAsync(Sleep("io", 3_600_000, deadlineMs: 3_600_000), gone.Token).AsTask();
        await Task.Delay(200);

        await gone.CancelAsync();

        var result = await running.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal(ExecErrorCodes.Cancelled, result.ErrorCode);
    }

    [Fact]
    public async Task QueuedBlock_WhoseCallerWentAway_IsCancelledWithoutRunning()
    {
        using var dispatcher = Create(o => o.InProcess.Pools["io"] = 1);
        var running = dispatcher.DispatchAsync(Sleep("io", 1000), CancellationToken.None).AsTask();
        await Task.Delay(100);
        using var gone = new CancellationTokenSource();
        var queued = dispatcher.DispatchAsync(Sleep("io", 1000), gone.Token).AsTask();

        await gone.CancelAsync();

        var result = await queued.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal(ExecErrorCodes.Cancelled, result.ErrorCode);
        Assert.Equal(ExecStatus.Ok, (await running).Status);
    }
}
