using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Dispatch.InProcess;
using Beamline.Dispatch.Nats;
using Microsoft.Extensions.DependencyInjection;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// Every executor type through NATS (two real workers offering different pools) and in-process,
/// with the same executor configuration: the outputs must be identical.
/// </summary>
public sealed class ExecutorParityFixture : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("beamline-parity-").FullName;
    private TcpListener? _http;
    private CancellationTokenSource? _httpStop;
    private Task? _httpLoop;

    public NatsServer Nats { get; private set; } = null!;

    public WorkerProcess CpuWorker { get; private set; } = null!;

    public WorkerProcess IoWorker { get; private set; } = null!;

    public NatsBlockDispatcher OverNats { get; private set; } = null!;

    private ServiceProvider? _natsServices;

    public InProcessBlockDispatcher InProcess { get; private set; } = null!;

    public int HttpPort { get; private set; }

    public async Task InitializeAsync()
    {
        StartHttpServer();
        // Separate sandboxes for the two paths, so that their writes cannot meet.
        var workerConfig = WriteConfig("worker");
        var localConfig = WriteConfig("local");
        Nats = await NatsServer.StartAsync();
        var plugins = Path.Combine(RepoPaths.Lib, "plugins");
        CpuWorker = await WorkerProcess.StartAsync(Nats.Url, WorkerProcess.NewId("cpu"), ["cpu=2"],
            "--executor-config", workerConfig, "--plugin-dir", plugins);
        IoWorker = await WorkerProcess.StartAsync(Nats.Url, WorkerProcess.NewId("io"), ["io=4", "tiny=1"],
            "--executor-config", workerConfig, "--queue-limit", "1");
        _natsServices = await WorkerClusterFixture.CreateNatsServicesAsync(Nats.Url);
        OverNats = (NatsBlockDispatcher)_natsServices.GetRequiredService<IBlockDispatcher>();
        var options = new DispatchOptions();
        options.InProcess.ExecutorConfigFile = localConfig;
        options.InProcess.PluginDirectory = plugins;
        InProcess = new InProcessBlockDispatcher(Options.Create(options), NullLogger<InProcessBlockDispatcher>.Instance);
    }

    private string WriteConfig(string name)
    {
        var sandbox = Path.Combine(_root, name, "sandbox");
        Directory.CreateDirectory(sandbox);
        var config = new JsonObject
        {
            ["fs"] = new JsonObject { ["root"] = sandbox },
            ["debug"] = new JsonObject { ["enabled"] = true },
            ["http"] = new JsonObject
            {
                ["allow"] = new JsonObject { ["parity"] = new JsonArray($"127.0.0.1:{HttpPort}") },
                ["allow_private"] = true,
            },
        };
        var path = Path.Combine(_root, name, "executors.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    /// <summary>A loopback HTTP/1.1 server that answers every request with a fixed JSON body.</summary>
    private void StartHttpServer()
    {
        _http = new TcpListener(IPAddress.Loopback, 0);
        _http.Start();
        HttpPort = ((IPEndPoint)_http.LocalEndpoint).Port;
        _httpStop = new CancellationTokenSource();
        var listener = _http;
        var stop = _httpStop.Token;
        _httpLoop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[8192];
                        var seen = new StringBuilder();
                        while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            var n = await stream.ReadAsync(buffer, stop);
                            if (n == 0)
                            {
                                return;
                            }
                            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        }
                        var body = """{"answer":42}""";
                        var response = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(response), stop);
                    }
                }, stop);
            }
        }, stop);
    }

    public async Task DisposeAsync()
    {
        InProcess?.Dispose();
        if (_natsServices is not null)
        {
            await _natsServices.DisposeAsync();
        }
        foreach (var process in new IAsyncDisposable?[] { IoWorker, CpuWorker, Nats })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        _httpStop?.Cancel();
        _http?.Stop();
        if (_httpLoop is not null)
        {
            await _httpLoop;
        }
        _httpStop?.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}

public sealed class ExecutorParityTests(ExecutorParityFixture cluster) : IClassFixture<ExecutorParityFixture>
{
    private static ExecRequest Block(string type, string pool, string payloadJson) => new()
    {
        BlockId = Guid.NewGuid().ToString("N"),
        TenantId = "parity",
        Type = type,
        Pool = pool,
        Payload = ByteString.CopyFromUtf8(payloadJson),
        DeadlineMs = 20_000,
    };

    /// <summary>Runs the block both ways; both must succeed with the same output (times stripped).</summary>
    private async Task<string> BothAsync(string type, string pool, string payloadJson)
    {
        var request = Block(type, pool, payloadJson);
        var remote = await cluster.OverNats.DispatchAsync(request.Clone(), CancellationToken.None);
        var local = await cluster.InProcess.DispatchAsync(request.Clone(), CancellationToken.None);
        Assert.True(remote.Status == ExecStatus.Ok, $"{type} over NATS: {remote.ErrorCode} {remote.ErrorMessage}");
        Assert.True(local.Status == ExecStatus.Ok, $"{type} in-process: {local.ErrorCode} {local.ErrorMessage}");
        var expectedWorker = pool == "cpu" ? cluster.CpuWorker.WorkerId : cluster.IoWorker.WorkerId;
        Assert.Equal(expectedWorker, remote.WorkerId);
        Assert.Equal(WithoutTimes(remote.Output), WithoutTimes(local.Output));
        return remote.Output.ToStringUtf8();
    }

    private static string WithoutTimes(ByteString output)
    {
        var text = output.ToStringUtf8();
        if (!text.StartsWith('{'))
        {
            return Convert.ToBase64String(output.Span);
        }
        var node = JsonNode.Parse(text)!;
        Strip(node);
        return node.ToJsonString();

        static void Strip(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    o.Remove("mtime_ms");
                    foreach (var child in o.Select(p => p.Value).ToList())
                    {
                        Strip(child);
                    }
                    break;
                case JsonArray a:
                    foreach (var child in a)
                    {
                        Strip(child);
                    }
                    break;
            }
        }
    }

    [Fact]
    public async Task CpuBuiltins_SameResultOnTheCpuWorkerAndInProcess()
    {
        var hash = await BothAsync("cpu.hash", "cpu", """{"algorithm":"sha256","data":"abc"}""");
        Assert.Contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash, StringComparison.Ordinal);
        await BothAsync("cpu.hash", "cpu", """{"algorithm":"fnv1a64","data":"abc"}""");
        await BothAsync("cpu.compress", "cpu", """{"data":"hello hello hello hello"}""");
        var scan = await BothAsync("cpu.regex_scan", "cpu", """{"patterns":["[a-z]+@example\\.com"],"data":"mail bob@example.com now"}""");
        Assert.Contains("\"start\":5", scan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExamplePlugin_LoadedByTheWorkerAndInProcess_GivesTheSameResult()
    {
        var counts = await BothAsync("example.wordcount", "cpu", "two words\nand three more");
        using var doc = JsonDocument.Parse(counts);
        Assert.Equal(5, doc.RootElement.GetProperty("words").GetInt32());
        var reversed = await BothAsync("example.reverse", "cpu", "héllo");
        Assert.Equal("olléh", reversed);
    }

    [Fact]
    public async Task FsBlocks_SameResultOnTheIoWorkerAndInProcess()
    {
        await BothAsync("fs.mkdir", "io", """{"path":"docs","parents":true}""");
        await BothAsync("fs.write", "io", """{"path":"docs/a.txt","data":"first line\n"}""");
        await BothAsync("fs.append", "io", """{"path":"docs/a.txt","data":"second line\n"}""");
        var read = await BothAsync("fs.read", "io", """{"path":"docs/a.txt"}""");
        Assert.Equal("first line\nsecond line\n", read);
        await BothAsync("fs.stat", "io", """{"path":"docs/a.txt"}""");
        var list = await BothAsync("fs.list", "io", """{"path":"docs"}""");
        Assert.Contains("a.txt", list, StringComparison.Ordinal);
        await BothAsync("fs.delete", "io", """{"path":"docs/a.txt"}""");
    }

    [Fact]
    public async Task FsEscape_RefusedOnBothPaths()
    {
        var request = Block("fs.read", "io", """{"path":"../../../../etc/passwd"}""");
        foreach (var dispatcher in new IBlockDispatcher[] { cluster.OverNats, cluster.InProcess })
        {
            var result = await dispatcher.DispatchAsync(request.Clone(), CancellationToken.None);
            Assert.Equal(ExecStatus.Error, result.Status);
            Assert.Equal(ExecErrorCodes.PermissionDenied, result.ErrorCode);
        }
    }

    [Fact]
    public async Task SqlBlocks_SameResultOnTheIoWorkerAndInProcess()
    {
        await BothAsync("sql.exec", "io", """{"sql":"CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER)"}""");
        await BothAsync("sql.exec", "io", """{"sql":"INSERT OR REPLACE INTO kv VALUES (?, ?)","params":["a'; DROP TABLE kv; --",7]}""");
        var rows = await BothAsync("sql.query", "io", """{"sql":"SELECT k, v FROM kv WHERE v = ?","params":[7]}""");
        Assert.Contains("DROP TABLE kv", rows, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpRequest_SameResultOnTheIoWorkerAndInProcess()
    {
        var output = await BothAsync("http.request", "io", $$"""{"url":"http://127.0.0.1:{{cluster.HttpPort}}/v1/thing"}""");
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(200, doc.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("""{"answer":42}""", Encoding.UTF8.GetString(Convert.FromBase64String(doc.RootElement.GetProperty("body_base64").GetString()!)));
    }

    [Fact]
    public async Task StreamedBlock_ChunksThenOneResult_SameBytesOverNatsAndInProcess()
    {
        // 512 KiB of incompressible data (the request stays under NATS max_payload) compressed as a stream: many chunks, then the result.
        var data = new byte[512 << 10];
        new Random(42).NextBytes(data);
        var request = Block("cpu.compress", "cpu", $$"""{"format":"gzip","data_base64":"{{Convert.ToBase64String(data)}}"}""");
        var whole = await cluster.InProcess.DispatchAsync(request.Clone(), CancellationToken.None);
        Assert.Equal(ExecStatus.Ok, whole.Status);

        foreach (var dispatcher in new IBlockDispatcher[] { cluster.OverNats, cluster.InProcess })
        {
            var chunks = new List<ExecChunk>();
            var results = new List<ExecResult>();
            await foreach (var item in dispatcher.DispatchStreamAsync(request.Clone(), CancellationToken.None))
            {
                Assert.Empty(results); // nothing after the result
                if (item.IsResult)
                {
                    results.Add(item.Result!);
                }
                else
                {
                    chunks.Add(item.Chunk!);
                }
            }
            var result = Assert.Single(results);
            Assert.True(result.Status == ExecStatus.Ok, $"{dispatcher.Mode}: {result.ErrorCode} {result.ErrorMessage}");
            Assert.True(chunks.Count > 1, $"{dispatcher.Mode}: {chunks.Count} chunk(s)");
            Assert.Equal(Enumerable.Range(0, chunks.Count).Select(i => (ulong)i), chunks.Select(c => c.Seq));
            var streamed = chunks.SelectMany(c => c.Data.ToByteArray()).ToArray();
            Assert.Equal(whole.Output.ToByteArray(), streamed);
        }
    }

    [Fact]
    public async Task StreamedBlock_NoWorkerForThePool_EndsWithOneNoRespondersResult()
    {
        var items = new List<ExecStreamItem>();
        await foreach (var item in cluster.OverNats.DispatchStreamAsync(Block("echo", "nobody-streams-here", "x"), CancellationToken.None))
        {
            items.Add(item);
        }
        var only = Assert.Single(items);
        Assert.Equal(ExecErrorCodes.NoResponders, only.Result!.ErrorCode);
    }

    [Fact]
    public async Task HttpRequest_HostOutsideTheAllowList_RefusedOnBothPaths()
    {
        var request = Block("http.request", "io", """{"url":"http://169.254.169.254/latest/meta-data/"}""");
        foreach (var dispatcher in new IBlockDispatcher[] { cluster.OverNats, cluster.InProcess })
        {
            var result = await dispatcher.DispatchAsync(request.Clone(), CancellationToken.None);
            Assert.Equal(ExecErrorCodes.PermissionDenied, result.ErrorCode);
        }
    }

    [Fact]
    public async Task SaturatedPool_AnswersResourceUnavailableInsteadOfQueueing()
    {
        // Pool "tiny" has one slot and a queue of one: of six slow blocks at once, two are
        // taken and the rest are refused at once — and every block gets exactly one answer.
        var blocks = Enumerable.Range(0, 6)
            .Select(_ => cluster.OverNats.DispatchAsync(Block("debug.sleep", "tiny", "300"), CancellationToken.None).AsTask())
            .ToArray();
        var results = await Task.WhenAll(blocks);
        Assert.Contains(results, r => r.Status == ExecStatus.Ok);
        Assert.Contains(results, r => r.ErrorCode == ExecErrorCodes.ResourceUnavailable);
        Assert.All(results, r => Assert.True(r.Status == ExecStatus.Ok || r.ErrorCode == ExecErrorCodes.ResourceUnavailable,
            $"{r.Status} {r.ErrorCode} {r.ErrorMessage}"));
        Assert.Equal(6, results.Select(r => r.BlockId).Distinct().Count());
    }
}
