using System.Diagnostics;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;
using NATS.Client.Core;
using Xunit.Abstractions;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// A real beamline-worker under faults, each test with its own real nats-server: SIGTERM while the
/// server is gone, a block that hangs past its deadline, and the server restarting.
/// </summary>
public sealed class WorkerFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    // Bounds against a hung test, not measurements: the figures go to the test output.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private NatsServer _nats = null!;
    private NatsTestClient _client = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _nats.DisposeAsync();
    }

    [Fact]
    public async Task Sigterm_WhileNatsIsStopped_ExitsWithinTheDrainTimeout()
    {
        var pool = NewPool("gone");
        var workerId = WorkerProcess.NewId("gone");
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, workerId, [$"{pool}=1"], "--drain-timeout-ms", "2000");
        await using var heartbeats = await _client.CollectAsync("caf.worker.heartbeat.v2");
        // A block that outlasts the drain: the drain has to give up on it.
        await _client.Connection.PublishAsync($"caf.exec.v2.{pool}", Request("held", "debug.sleep", "60000", deadlineMs: 120_000).ToByteArray(),
            replyTo: $"gone.replies.{Guid.NewGuid():N}");
        await heartbeats.WaitForAsync(m => Beat(m, workerId)?.Pools.Any(p => p.Name == pool && p.InFlight == 1) == true, Patience);

        await _nats.KillAsync();
        await worker.Process.WaitForLineAsync("disconnected; reconnecting", Patience);
        var clock = Stopwatch.StartNew();
        worker.Process.Terminate();
        var exitCode = await worker.Process.WaitForExitAsync(Patience);
        output.WriteLine($"SIGTERM with NATS gone and a block running: exited {exitCode} after {clock.ElapsedMilliseconds} ms (drain timeout 2000 ms)");
        output.WriteLine(await worker.Process.WaitForLineAsync("exiting with blocks unfinished", Patience));

        Assert.Equal(1, exitCode); // the running block was abandoned at the drain timeout
        Assert.Contains("drain timed out after 2000 ms", worker.Process.Output, StringComparison.Ordinal);
        Assert.Contains("NATS is not connected", worker.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_WhileNatsIsStopped_WithNothingRunning_ExitsZero()
    {
        var workerId = WorkerProcess.NewId("gone0");
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, workerId, [$"{NewPool("gone0")}=1"], "--drain-timeout-ms", "30000");
        await _nats.KillAsync();
        await worker.Process.WaitForLineAsync("disconnected; reconnecting", Patience);

        worker.Process.Terminate();

        Assert.Equal(0, await worker.Process.WaitForExitAsync(Patience));
        Assert.Contains("drained in", worker.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_WithAZeroDrainTimeoutAndNothingRunning_ExitsZero()
    {
        // The coordinator's zero timeout beats the pools' replies; with nothing left that is still a complete drain.
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("zero"), [$"{NewPool("zero")}=1"], "--drain-timeout-ms", "0");

        worker.Process.Terminate();

        Assert.Equal(0, await worker.Process.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task HungBlock_AnsweredDeadlineExceededOnce_ReportedStuck_PoolKeepsItsCapacity()
    {
        var pool = NewPool("hang");
        var workerId = WorkerProcess.NewId("hang");
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, workerId, [$"{pool}=2"], "--hard-deadline-grace-ms", "200");
        await using var heartbeats = await _client.CollectAsync("caf.worker.heartbeat.v2");
        var inbox = $"hang.replies.{Guid.NewGuid():N}";
        await using var replies = await _client.CollectAsync(inbox);

        // debug.hang ignores its 300 ms deadline and holds its thread for 6 s.
        await _client.Connection.PublishAsync($"caf.exec.v2.{pool}", Request("hung", "debug.hang", "6000", deadlineMs: 300).ToByteArray(),
            replyTo: inbox);
        var answer = ExecResult.Parser.ParseFrom((await replies.WaitForAsync(_ => true, Patience)).Data);
        Assert.Equal(ExecStatus.Timeout, answer.Status);
        Assert.Equal("deadline_exceeded", answer.ErrorCode);
        Assert.Equal("hung", answer.BlockId);
        Assert.Equal(workerId, answer.WorkerId);

        // The heartbeat reports it, and the pool runs two blocks at once beside the hung thread.
        await heartbeats.WaitForAsync(m => Beat(m, workerId)?.Pools.Any(p => p.Name == pool && p.Stuck == 1 && p.Replaced == 1) == true, Patience);
        var blocks = Enumerable.Range(0, 2)
            .Select(i => _client.RequestAsync($"caf.exec.v2.{pool}", Request($"beside-{i}", "debug.sleep", "1500", deadlineMs: 10_000).ToByteArray(), Patience))
            .ToArray();
        await heartbeats.WaitForAsync(m => Beat(m, workerId)?.Pools.Any(p => p.Name == pool && p.InFlight == 2 && p.Stuck == 1) == true, Patience);
        foreach (var reply in await Task.WhenAll(blocks))
        {
            Assert.Equal(ExecStatus.Ok, ExecResult.Parser.ParseFrom(reply.Data).Status);
        }

        // The hang returns at last: no longer stuck, and its late result went nowhere.
        await heartbeats.WaitForAsync(m => Beat(m, workerId)?.Pools.Any(p => p.Name == pool && p.Stuck == 0 && p.Replaced == 1) == true, Patience);
        await worker.Process.WaitForLineAsync("its result is discarded", Patience);
        await _client.Connection.PingAsync();
        Assert.Single(replies.Messages);
    }

    [Fact]
    public async Task NatsRestarted_WorkerServesAtFullCapacityAgain()
    {
        var pool = NewPool("back");
        var workerId = WorkerProcess.NewId("back");
        await using var worker = await WorkerProcess.StartAsync(_nats.Url, workerId, [$"{pool}=2"]);
        await _client.DisposeAsync();

        await _nats.KillAsync();
        await worker.Process.WaitForLineAsync("nats: disconnected; reconnecting", Patience);
        await _nats.RestartAsync();
        var clock = Stopwatch.StartNew();
        // A fresh client each time, so that only the worker's reconnect is measured.
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
        var firstAnswer = TimeSpan.Zero;
        while (firstAnswer == TimeSpan.Zero)
        {
            Assert.True(clock.Elapsed < Patience, $"the worker did not answer within {Patience} of NATS returning:\n{worker.Process.Output}");
            try
            {
                var reply = await _client.RequestAsync($"caf.exec.v2.{pool}", Request("probe", "echo", "x").ToByteArray(), TimeSpan.FromMilliseconds(500));
                if (ExecResult.Parser.ParseFrom(reply.Data).Status == ExecStatus.Ok)
                {
                    firstAnswer = clock.Elapsed;
                }
            }
            catch (NatsNoRespondersException)
            {
                await Task.Delay(20);
            }
            catch (NatsNoReplyException)
            {
            }
        }

        // Full capacity: both runners at once.
        await using var heartbeats = await _client.CollectAsync("caf.worker.heartbeat.v2");
        var blocks = Enumerable.Range(0, 2)
            .Select(i => _client.RequestAsync($"caf.exec.v2.{pool}", Request($"after-{i}", "debug.sleep", "1500", deadlineMs: 10_000).ToByteArray(), Patience))
            .ToArray();
        await heartbeats.WaitForAsync(m => Beat(m, workerId)?.Pools.Any(p => p.Name == pool && p.InFlight == 2) == true, Patience);
        foreach (var reply in await Task.WhenAll(blocks))
        {
            Assert.Equal(ExecStatus.Ok, ExecResult.Parser.ParseFrom(reply.Data).Status);
        }
        output.WriteLine($"worker answered {firstAnswer.TotalMilliseconds:F0} ms after nats-server was listening again (--reconnect-wait-ms 500)");
    }

    private static string NewPool(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private static ExecRequest Request(string blockId, string type, string payload, uint deadlineMs = 5000) => new()
    {
        BlockId = blockId,
        TenantId = "tenant-a",
        Type = type,
        Payload = ByteString.CopyFromUtf8(payload),
        DeadlineMs = deadlineMs,
    };

    private static WorkerHeartbeat? Beat(NatsMsg<byte[]> msg, string workerId)
    {
        var beat = WorkerHeartbeat.Parser.ParseFrom(msg.Data);
        return beat.WorkerId == workerId ? beat : null;
    }
}
