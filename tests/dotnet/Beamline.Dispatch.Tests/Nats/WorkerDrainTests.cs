using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>SIGTERM: a worker stops taking work but finishes what it has, then exits 0.</summary>
[Collection(WorkerClusterCollection.Name)]
public sealed class WorkerDrainTests(WorkerClusterFixture cluster)
{
    [Fact]
    public async Task Sigterm_WithBlocksInFlight_CompletesThemAndExitsZero()
    {
        var pool = "drain" + Guid.NewGuid().ToString("N")[..8];
        var workerId = WorkerProcess.NewId("drain");
        await using var worker = await WorkerProcess.StartAsync(cluster.Nats.Url, workerId, [$"{pool}=4"]);
        await using var connection = await NatsTestClient.ConnectAsync(cluster.Nats.Url);

        // Watch the worker's heartbeats to know when all four blocks are running.
        await using var heartbeats = await connection.CollectAsync("caf.worker.heartbeat.v2");
        var running = heartbeats.WaitForAsync(msg =>
        {
            var beat = WorkerHeartbeat.Parser.ParseFrom(msg.Data);
            return beat.WorkerId == workerId && beat.Pools.Any(p => p.Name == pool && p.InFlight == 4);
        }, TimeSpan.FromSeconds(15));

        var blocks = Enumerable.Range(0, 4).Select(i => cluster.OverNats.DispatchAsync(new ExecRequest
        {
            BlockId = $"drain-{i}",
            TenantId = "tenant-a",
            Type = "debug.sleep",
            Pool = pool,
            Payload = ByteString.CopyFromUtf8("1500"),
            DeadlineMs = 20_000,
        }, CancellationToken.None).AsTask()).ToArray();

        await running;
        worker.Process.Terminate();

        var results = await Task.WhenAll(blocks);
        Assert.All(results, r => Assert.Equal(ExecStatus.Ok, r.Status));
        Assert.All(results, r => Assert.Equal(workerId, r.WorkerId));
        Assert.Equal(0, await worker.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)));

        // Gone from the queue group: a new block for the pool finds nobody.
        var after = await cluster.OverNats.DispatchAsync(new ExecRequest { BlockId = "after", Type = "echo", Pool = pool, DeadlineMs = 5000 },
            CancellationToken.None);
        Assert.Equal(ExecErrorCodes.NoResponders, after.ErrorCode);
    }
}
