using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// CP2 blocks at most once by (tenant, block_id) (<c>--block-dedupe on</c>), against a real
/// nats-server with JetStream, real workers sharing one sandbox and a real <c>sql.exec</c> INSERT
/// counted in the tenant's SQLite database: the same block_id sent again (a client retrying on
/// another control plane) gets the first answer and adds no row; another tenant's block with the
/// same id runs its own; a block whose worker was killed mid-run answers <c>worker_lost</c>; a
/// block that ends while NATS is away has its result stored once NATS returns.
/// </summary>
public sealed class BlockDedupeWorkerTests : IAsyncLifetime
{
    private const string Bucket = "beamline-block-results";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly List<WorkerProcess> _workers = [];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "beamline-block-dedupe-" + Guid.NewGuid().ToString("N"));
    private NatsServer _nats = null!;
    private ServiceProvider _services = null!;
    private IBlockDispatcher _dispatch = null!;
    private string _config = null!;

    public async Task InitializeAsync()
    {
        var sandbox = Path.Combine(_root, "sandbox");
        Directory.CreateDirectory(sandbox);
        _config = Path.Combine(_root, "executors.json");
        var config = new JsonObject
        {
            ["fs"] = new JsonObject { ["root"] = sandbox },
            ["sql"] = new JsonObject { ["timeout_ms"] = 120_000 },
        };
        await File.WriteAllTextAsync(_config, config.ToJsonString());
        _nats = await NatsServer.StartAsync(jetStream: true);
        _services = await WorkerClusterFixture.CreateNatsServicesAsync(_nats.Url);
        _dispatch = _services.GetRequiredService<IBlockDispatcher>();
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task SameBlockIdTwice_RunsOnce_AndAnswersTheSameResult()
    {
        await StartWorkerAsync("once-a");
        await StartWorkerAsync("once-b");
        await CreateTableAsync("tenant-a");
        var insert = Block("tenant-a", "sql.exec", InsertSql("first"));

        var first = await _dispatch.DispatchAsync(insert.Clone(), CancellationToken.None);
        var again = await _dispatch.DispatchAsync(insert.Clone(), CancellationToken.None);
        var third = await _dispatch.DispatchAsync(insert.Clone(), CancellationToken.None);

        Assert.True(first.Status == ExecStatus.Ok, $"{first.ErrorCode} {first.ErrorMessage}");
        // The stored bytes, byte for byte: the same worker id and timings too.
        Assert.Equal(first.ToByteString(), again.ToByteString());
        Assert.Equal(first.ToByteString(), third.ToByteString());
        Assert.Equal(1, await CountRowsAsync("tenant-a"));
    }

    [Fact]
    public async Task AnotherTenantWithTheSameBlockId_RunsItsOwn()
    {
        await StartWorkerAsync("tenants");
        await CreateTableAsync("tenant-a");
        await CreateTableAsync("tenant-b");
        var blockId = Guid.NewGuid().ToString("N");
        var forA = Block("tenant-a", "sql.exec", InsertSql("a"), blockId);
        var forB = Block("tenant-b", "sql.exec", InsertSql("b"), blockId);

        var a = await _dispatch.DispatchAsync(forA, CancellationToken.None);
        var b = await _dispatch.DispatchAsync(forB, CancellationToken.None);
        var aAgain = await _dispatch.DispatchAsync(forA.Clone(), CancellationToken.None);

        Assert.True(a.Status == ExecStatus.Ok, $"{a.ErrorCode} {a.ErrorMessage}");
        Assert.True(b.Status == ExecStatus.Ok, $"{b.ErrorCode} {b.ErrorMessage}");
        Assert.NotEqual(a.ToByteString(), b.ToByteString()); // never the other tenant's stored answer
        Assert.Equal(a.ToByteString(), aAgain.ToByteString());
        Assert.Equal(1, await CountRowsAsync("tenant-a"));
        Assert.Equal(1, await CountRowsAsync("tenant-b"));
    }

    [Fact]
    public async Task SameBlockIdWhileTheFirstStillRuns_WaitsForItsResult_NotASecondRun()
    {
        await StartWorkerAsync("live-a");
        await StartWorkerAsync("live-b");
        await CreateTableAsync("tenant-a");
        var slow = Block("tenant-a", "sql.exec", SlowInsertSql(3_000_000), deadlineMs: 60_000);
        var claims = await CountClaimsAsync();

        var first = _dispatch.DispatchAsync(slow.Clone(), CancellationToken.None).AsTask();
        await WaitForClaimsAsync(claims + 1);
        var second = await _dispatch.DispatchAsync(slow.Clone(), CancellationToken.None);

        Assert.True(second.Status == ExecStatus.Ok, $"{second.ErrorCode} {second.ErrorMessage}");
        Assert.Equal((await first).ToByteString(), second.ToByteString());
        Assert.Equal(1, await CountRowsAsync("tenant-a"));
    }

    [Fact]
    public async Task WorkerKilledMidBlock_TheRetryAnswersWorkerLost_AndAddsNoRow()
    {
        var doomed = await StartWorkerAsync("killed");
        await CreateTableAsync("tenant-a");
        // Long enough that the kill comes mid-run; the claim is given up 3 s + 0.5 s after it was made.
        var slow = Block("tenant-a", "sql.exec", SlowInsertSql(2_000_000_000), deadlineMs: 3_000);
        var claims = await CountClaimsAsync();
        var lost = _dispatch.DispatchAsync(slow.Clone(), CancellationToken.None).AsTask();
        await WaitForClaimsAsync(claims + 1);
        await doomed.DisposeAsync(); // SIGKILL mid-block: SQLite rolls its transaction back
        _workers.Remove(doomed);
        Assert.NotEqual(ExecStatus.Ok, (await lost).Status);

        var heir = await StartWorkerAsync("heir");
        var retry = slow.Clone();
        retry.DeadlineMs = 30_000;
        var answer = await _dispatch.DispatchAsync(retry, CancellationToken.None);

        Assert.Equal(ExecErrorCodes.WorkerLost, answer.ErrorCode);
        Assert.Equal(ExecStatus.Error, answer.Status);
        Assert.Equal(heir.WorkerId, answer.WorkerId);
        Assert.Contains(doomed.WorkerId, answer.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(502, ExecErrorCodes.HttpStatusFor(answer.ErrorCode));
        Assert.Equal(0, await CountRowsAsync("tenant-a"));
        await heir.Process.WaitForLineAsync("is not idempotent: answering worker_lost", Wait);
    }

    [Fact]
    public async Task NatsAwayWhenTheBlockEnds_ItsResultIsStoredOnceNatsReturns_AndTheRetryGetsIt()
    {
        var worker = await StartWorkerAsync("outage");
        await CreateTableAsync("tenant-a");
        // Seconds of work: NATS hangs mid-run, so the result's store goes out and is never
        // answered; then NATS dies with it unread, and comes back.
        var slow = Block("tenant-a", "sql.exec", SlowInsertSql(10_000_000), deadlineMs: 60_000);
        var claims = await CountClaimsAsync();
        var first = _dispatch.DispatchAsync(slow.Clone(), CancellationToken.None).AsTask();
        await WaitForClaimsAsync(claims + 1);
        _nats.Freeze();
        await worker.Process.WaitForLineAsync("block dedupe: result not stored under", Wait);
        await _nats.KillAsync();
        await _nats.RestartAsync(); // same store: the bucket and the claim come back, the result did not get there

        // The client retries, as long as NATS answers that it is not back yet (its first answer
        // may have gone with the connection). The claim is live for a minute: without the stored
        // result a retry would wait for it and end in deadline_exceeded.
        var retry = slow.Clone();
        retry.DeadlineMs = 10_000;
        var answer = await DispatchUntilServedAsync(retry);

        Assert.True(answer.Status == ExecStatus.Ok, $"{answer.ErrorCode} {answer.ErrorMessage}");
        Assert.Equal(worker.WorkerId, answer.WorkerId);
        Assert.Equal(1, await CountRowsAsync("tenant-a"));
        try
        {
            var original = await first.WaitAsync(Wait);
            if (original.Status == ExecStatus.Ok)
            {
                Assert.Equal(original.ToByteString(), answer.ToByteString()); // one result, stored once
            }
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            // The first request failed with the connection: the retry above is its answer.
        }
    }

    private async Task<WorkerProcess> StartWorkerAsync(string prefix)
    {
        var worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId(prefix), ["io=2"],
            "--executor-config", _config, "--block-dedupe", "on", "--block-dedupe-grace-ms", "500");
        _workers.Add(worker);
        return worker;
    }

    private static ExecRequest Block(string tenant, string type, string payloadJson, string? blockId = null, uint deadlineMs = 20_000) => new()
    {
        BlockId = blockId ?? Guid.NewGuid().ToString("N"),
        TenantId = tenant,
        Type = type,
        Pool = "io",
        Payload = ByteString.CopyFromUtf8(payloadJson),
        DeadlineMs = deadlineMs,
    };

    private static string InsertSql(string tag) =>
        JsonSerializer.Serialize(new { sql = "INSERT INTO runs (tag) VALUES (?)", @params = new[] { tag } });

    // One row, inserted once a recursive count of `steps` is done: seconds of work, and no row
    // until the statement completes.
    private static string SlowInsertSql(long steps) => JsonSerializer.Serialize(new
    {
        sql = "INSERT INTO runs (tag) SELECT 'slow-' || max(x) FROM "
              + $"(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {steps}) SELECT x FROM c)",
    });

    private async Task CreateTableAsync(string tenant)
    {
        var result = await _dispatch.DispatchAsync(
            Block(tenant, "sql.exec", """{"sql":"CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, tag TEXT)"}"""),
            CancellationToken.None);
        Assert.True(result.Status == ExecStatus.Ok, $"{result.ErrorCode} {result.ErrorMessage}");
    }

    private async Task<long> CountRowsAsync(string tenant)
    {
        var result = await _dispatch.DispatchAsync(
            Block(tenant, "sql.query", """{"sql":"SELECT count(*) AS n FROM runs"}"""), CancellationToken.None);
        Assert.True(result.Status == ExecStatus.Ok, $"{result.ErrorCode} {result.ErrorMessage}");
        using var output = JsonDocument.Parse(result.Output.ToStringUtf8());
        return output.RootElement.GetProperty("rows")[0][0].GetInt64();
    }

    private async Task<long> CountClaimsAsync()
    {
        var js = new NatsJSContext((NatsConnection)_services.GetRequiredService<INatsConnection>());
        var stream = await js.GetStreamAsync("KV_" + Bucket, new StreamInfoRequest { SubjectsFilter = $"$KV.{Bucket}.claim.>" });
        return stream.Info.State.Subjects?.Count ?? 0;
    }

    // Dispatches until the answer is not "NATS or the worker is not back yet".
    private async Task<ExecResult> DispatchUntilServedAsync(ExecRequest request)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (true)
        {
            var answer = await _dispatch.DispatchAsync(request.Clone(), CancellationToken.None);
            if (answer.ErrorCode is not (ExecErrorCodes.NoResponders or ExecErrorCodes.ResourceUnavailable))
            {
                return answer;
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    private async Task WaitForClaimsAsync(long count)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (await CountClaimsAsync() < count)
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
