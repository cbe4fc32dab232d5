using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>Blocks through NATS to a real worker and in-process through the C ABI.</summary>
[Collection(WorkerClusterCollection.Name)]
public sealed class BlockDispatchIntegrationTests(WorkerClusterFixture cluster)
{
    private static ExecRequest Block(string type, ByteString payload, string pool = "cpu", uint deadlineMs = 10_000) => new()
    {
        BlockId = Guid.NewGuid().ToString("N"),
        TenantId = "tenant-a",
        Type = type,
        Pool = pool,
        Payload = payload,
        DeadlineMs = deadlineMs,
    };

    public static TheoryData<int> PayloadSizes => new() { 0, 1, 200, 4096, 65_536, 1_000_000 };

    [Theory]
    [MemberData(nameof(PayloadSizes))]
    public async Task Echo_OverNatsAndInProcess_OutputsAreByteIdentical(int size)
    {
        var payload = new byte[size];
        new Random(size).NextBytes(payload);
        var request = Block("echo", ByteString.CopyFrom(payload));

        var remote = await cluster.OverNats.DispatchAsync(request.Clone(), CancellationToken.None);
        var local = await cluster.InProcess.DispatchAsync(request.Clone(), CancellationToken.None);

        Assert.Equal(ExecStatus.Ok, remote.Status);
        Assert.Equal(ExecStatus.Ok, local.Status);
        Assert.Equal(payload, remote.Output.ToByteArray());
        Assert.Equal(remote.Output, local.Output);
        Assert.Equal(request.BlockId, remote.BlockId);
        Assert.Equal(request.BlockId, local.BlockId);
        Assert.Equal(cluster.Worker.WorkerId, remote.WorkerId);
        Assert.Equal(DispatchModes.InProcess, local.WorkerId);
    }

    [Fact]
    public async Task Noop_BothPaths_SucceedWithEmptyOutput()
    {
        var request = Block("noop", ByteString.CopyFromUtf8("ignored"));
        var remote = await cluster.OverNats.DispatchAsync(request.Clone(), CancellationToken.None);
        var local = await cluster.InProcess.DispatchAsync(request.Clone(), CancellationToken.None);
        Assert.Equal(ExecStatus.Ok, remote.Status);
        Assert.Equal(ExecStatus.Ok, local.Status);
        Assert.True(remote.Output.IsEmpty);
        Assert.True(local.Output.IsEmpty);
    }

    [Fact]
    public async Task Echo_ManyInFlightOverNats_EachGetsItsOwnResult()
    {
        var requests = Enumerable.Range(0, 500)
            .Select(i => Block("echo", ByteString.CopyFromUtf8($"block-{i}"), pool: i % 2 == 0 ? "cpu" : "io"))
            .ToArray();
        var results = await Task.WhenAll(requests.Select(r => cluster.OverNats.DispatchAsync(r, CancellationToken.None).AsTask()));
        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(ExecStatus.Ok, results[i].Status);
            Assert.Equal(requests[i].BlockId, results[i].BlockId);
            Assert.Equal($"block-{i}", results[i].Output.ToStringUtf8());
        }
    }

    [Fact]
    public async Task UnknownType_BothPaths_AnswerUnknownExecutorNamingTheType()
    {
        var request = Block("no.such.executor", ByteString.Empty);
        foreach (var dispatcher in new IBlockDispatcher[] { cluster.OverNats, cluster.InProcess })
        {
            var result = await dispatcher.DispatchAsync(request.Clone(), CancellationToken.None);
            Assert.Equal(ExecStatus.Error, result.Status);
            Assert.Equal(ExecErrorCodes.UnknownExecutor, result.ErrorCode);
            Assert.Contains("no.such.executor", result.ErrorMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task MalformedProtobuf_ToWorker_AnswersInvalidInput()
    {
        await using var connection = await NatsTestClient.ConnectAsync(cluster.Nats.Url);
        // Field 1 as a length-delimited string claiming 100 bytes, with 2 present.
        byte[] garbage = [0x0A, 0x64, 0x41, 0x42];
        var reply = await connection.RequestAsync("caf.exec.v2.cpu", garbage, TimeSpan.FromSeconds(10));
        var result = ExecResult.Parser.ParseFrom(reply.Data);
        Assert.Equal(ExecStatus.Error, result.Status);
        Assert.Equal(ExecErrorCodes.InvalidInput, result.ErrorCode);
        Assert.Equal(cluster.Worker.WorkerId, result.WorkerId);
    }

    [Fact]
    public async Task PoolWithoutWorkers_AnswersNoRespondersWithoutWaitingForTheDeadline()
    {
        var result = await cluster.OverNats.DispatchAsync(Block("echo", ByteString.Empty, pool: "nobody-serves-this", deadlineMs: 60_000),
            CancellationToken.None);
        Assert.Equal(ExecStatus.Error, result.Status);
        Assert.Equal(ExecErrorCodes.NoResponders, result.ErrorCode);
        Assert.Contains("nobody-serves-this", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowBlock_PastItsDeadline_AnswersDeadlineExceeded()
    {
        var request = Block("debug.sleep", ByteString.CopyFromUtf8("5000"), deadlineMs: 300);
        foreach (var dispatcher in new IBlockDispatcher[] { cluster.OverNats, cluster.InProcess })
        {
            var result = await dispatcher.DispatchAsync(request.Clone(), CancellationToken.None);
            Assert.NotEqual(ExecStatus.Ok, result.Status);
            Assert.Equal(ExecErrorCodes.DeadlineExceeded, result.ErrorCode);
        }
    }

    [Fact]
    public async Task InvalidPoolName_OverNats_IsRefusedBeforeSending()
    {
        var result = await cluster.OverNats.DispatchAsync(Block("echo", ByteString.Empty, pool: "cpu.>"), CancellationToken.None);
        Assert.Equal(ExecErrorCodes.InvalidInput, result.ErrorCode);
    }

    [Fact]
    public async Task PoolNotOfferedInProcess_AnswersResourceUnavailable()
    {
        var result = await cluster.InProcess.DispatchAsync(Block("echo", ByteString.Empty, pool: "gpu"), CancellationToken.None);
        Assert.Equal(ExecErrorCodes.ResourceUnavailable, result.ErrorCode);
        Assert.Contains("gpu", result.ErrorMessage, StringComparison.Ordinal);
    }
}
