using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Beamline.Dispatch.InProcess;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Beamline.Dispatch.Tests.InProcess;

/// <summary>
/// <c>http.request</c> blocks run on the runtime's event thread (execute_async): a thousand slow upstream calls
/// hold no thread each, streamed ones can carry the response head first, and a caller that goes away stops its
/// transfer.
/// </summary>
public sealed class InProcessBlockDispatcherAsyncTests(ITestOutputHelper output) : IDisposable
{
    private readonly CancellationTokenSource _serverStop = new();
    private readonly List<string> _configFiles = [];

    public void Dispose()
    {
        _serverStop.Cancel();
        _serverStop.Dispose();
        foreach (var file in _configFiles)
        {
            File.Delete(file);
        }
    }

    private InProcessBlockDispatcher Create(LoopbackHttpServer upstream, Action<DispatchOptions>? configure = null)
    {
        var port = new Uri(upstream.BaseUrl).Port;
        var file = Path.Combine(Path.GetTempPath(), $"beamline-async-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, $$$"""{"http": {"allow": {"tenant-a": ["127.0.0.1:{{{port}}}"]}, "timeout_ms": 60000}}""");
        _configFiles.Add(file);
        var options = new DispatchOptions();
        options.InProcess.Pools["io"] = 4;
        options.InProcess.ExecutorConfigFile = file;
        configure?.Invoke(options);
        return new InProcessBlockDispatcher(Options.Create(options), NullLogger<InProcessBlockDispatcher>.Instance);
    }

    private static ExecRequest Get(string url, bool streamHead = false) => new()
    {
        BlockId = Guid.NewGuid().ToString("N"),
        TenantId = "tenant-a",
        Type = "http.request",
        Pool = "io",
        Payload = ByteString.CopyFromUtf8(streamHead
            ? JsonSerializer.Serialize(new { url, stream_head = true })
            : JsonSerializer.Serialize(new { url })),
    };

    private static int Threads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static async Task WriteAsync(HttpListenerContext context, int status, string body, string contentType = "text/plain")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    [Fact]
    public async Task ThousandSlowUpstreamCalls_AllSucceed_WithoutAThreadEach()
    {
        const int blocks = 1000;
        int inFlight = 0;
        int peak = 0;
        using var upstream = new LoopbackHttpServer(async context =>
        {
            var now = Interlocked.Increment(ref inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen)
            {
            }
            try
            {
                await Task.Delay(1000, _serverStop.Token);
                await WriteAsync(context, 200, "slow answer");
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }, concurrent: true);
        using var dispatcher = Create(upstream);
        // One call first: the event thread and the listener exist before the count is taken.
        Assert.Equal(ExecStatus.Ok, (await dispatcher.DispatchAsync(Get(upstream.BaseUrl + "/warm"), CancellationToken.None)).Status);
        Volatile.Write(ref peak, 0);

        var before = Threads();
        var clock = Stopwatch.StartNew();
        var calls = new Task<ExecResult>[blocks];
        for (var i = 0; i < blocks; i++)
        {
            calls[i] = dispatcher.DispatchAsync(Get($"{upstream.BaseUrl}/slow/{i}"), CancellationToken.None).AsTask();
        }
        var all = Task.WhenAll(calls);
        var during = before;
        var busiest = 0;
        while (!all.IsCompleted)
        {
            during = Math.Max(during, Threads());
            busiest = Math.Max(busiest, dispatcher.AsyncInFlight);
            await Task.WhenAny(all, Task.Delay(50));
        }
        var results = await all.WaitAsync(TimeSpan.FromMinutes(2));
        clock.Stop();
        var after = Threads();

        output.WriteLine($"{blocks} http.request blocks, upstream answering after 1 s, io pool of 4 threads:");
        output.WriteLine($"  threads before={before} during(max)={during} after={after} (growth {during - before})");
        output.WriteLine($"  upstream peak concurrency={peak}, dispatcher peak async in flight={busiest}");
        output.WriteLine($"  wall time {clock.ElapsedMilliseconds} ms");

        Assert.All(results, r =>
        {
            Assert.True(r.Status == ExecStatus.Ok, $"{r.ErrorCode}: {r.ErrorMessage}");
            Assert.Equal(200, JsonDocument.Parse(r.Output.Memory).RootElement.GetProperty("status").GetInt32());
        });
        Assert.True(during - before < 100, $"threads grew from {before} to {during}");
        Assert.True(peak > 4, $"the upstream saw at most {peak} calls at once: they waited for the pool's 4 threads");
        Assert.Equal(0, dispatcher.AsyncInFlight);
    }

    [Theory]
    [InlineData(200, "data: one\n\ndata: two\n\n")]
    [InlineData(429, "{\"error\":\"rate limited\"}")]
    [InlineData(500, "{\"error\":\"upstream broke\"}")]
    public async Task Stream_WithStreamHead_TellsTheStatusBeforeTheBody(int status, string body)
    {
        using var upstream = new LoopbackHttpServer(async context =>
        {
            if (context.Request.Url!.AbsolutePath == "/redirect")
            {
                context.Response.StatusCode = 302;
                context.Response.RedirectLocation = "/final";
                context.Response.Close();
                return;
            }
            context.Response.AddHeader("X-Upstream", "yes");
            await WriteAsync(context, status, body, status == 200 ? "text/event-stream" : "application/json");
        }, concurrent: true);
        using var dispatcher = Create(upstream);

        var chunks = new List<string>();
        ExecResult? result = null;
        await foreach (var item in dispatcher.DispatchStreamAsync(Get(upstream.BaseUrl + "/redirect", streamHead: true), CancellationToken.None))
        {
            Assert.Null(result); // the result comes last
            if (item.Chunk is { } chunk)
            {
                Assert.Equal((ulong)chunks.Count, chunk.Seq);
                chunks.Add(chunk.Data.ToStringUtf8());
            }
            else
            {
                result = item.Result;
            }
        }

        Assert.NotNull(result);
        Assert.True(result.Status == ExecStatus.Ok, result.ErrorMessage);
        Assert.True(chunks.Count >= 2);
        Assert.EndsWith("\n", chunks[0], StringComparison.Ordinal);
        using var head = JsonDocument.Parse(chunks[0]);
        Assert.Equal(status, head.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("yes", head.RootElement.GetProperty("headers").GetProperty("x-upstream").GetString());
        Assert.Equal(body, string.Concat(chunks.Skip(1)));
        using var final = JsonDocument.Parse(result.Output.Memory);
        Assert.Equal(status, final.RootElement.GetProperty("status").GetInt32());
        Assert.EndsWith("/final", final.RootElement.GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(body.Length, final.RootElement.GetProperty("body_bytes").GetInt32());
    }

    [Fact]
    public async Task Block_WhoseCallerWentAway_StopsItsTransfer()
    {
        using var upstream = new LoopbackHttpServer(async context =>
        {
            await Task.Delay(60_000, _serverStop.Token);
            await WriteAsync(context, 200, "too late");
        }, concurrent: true);
        using var dispatcher = Create(upstream);
        using var gone = new CancellationTokenSource();
        var running = dispatcher.DispatchAsync(Get(upstream.BaseUrl + "/hang"), gone.Token).AsTask();
        await Task.Delay(200);
        Assert.Equal(1, dispatcher.AsyncInFlight);

        await gone.CancelAsync();

        var result = await running.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal(ExecErrorCodes.Cancelled, result.ErrorCode);
        Assert.Equal(0, dispatcher.AsyncInFlight);
    }

    [Fact]
    public async Task Stream_ReaderThatStopsEarly_StopsTheTransfer()
    {
        using var upstream = new LoopbackHttpServer(async context =>
        {
            context.Response.SendChunked = true;
            var first = Encoding.UTF8.GetBytes("data: first\n\n");
            await context.Response.OutputStream.WriteAsync(first);
            await context.Response.OutputStream.FlushAsync();
            await Task.Delay(60_000, _serverStop.Token);
        }, concurrent: true);
        using var dispatcher = Create(upstream);

        await foreach (var item in dispatcher.DispatchStreamAsync(Get(upstream.BaseUrl + "/sse"), CancellationToken.None))
        {
            Assert.NotNull(item.Chunk);
            break; // disposing the enumerator cancels the block and waits for its end
        }

        Assert.Equal(0, dispatcher.AsyncInFlight);
    }

    [Fact]
    public async Task BlocksPastTheAsyncLimit_AreRefusedAtOnce()
    {
        using var upstream = new LoopbackHttpServer(async context =>
        {
            await Task.Delay(60_000, _serverStop.Token);
            await WriteAsync(context, 200, "too late");
        }, concurrent: true);
        using var dispatcher = Create(upstream, o => o.InProcess.AsyncLimit = 1);
        using var stop = new CancellationTokenSource();
        var first = dispatcher.DispatchAsync(Get(upstream.BaseUrl + "/hang"), stop.Token).AsTask();

        var second = await dispatcher.DispatchAsync(Get(upstream.BaseUrl + "/hang"), CancellationToken.None);

        Assert.Equal(ExecErrorCodes.ResourceUnavailable, second.ErrorCode);
        Assert.Contains("AsyncLimit", second.ErrorMessage, StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(ExecStatus.Cancelled, (await first.WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }

    [Fact]
    public async Task OtherBlockTypes_StillRunOnTheirPool()
    {
        using var upstream = new LoopbackHttpServer(context => WriteAsync(context, 200, "unused"));
        using var dispatcher = Create(upstream);
        for (var i = 0; i < 2; i++) // the second time the type is known not to be asynchronous
        {
            var echo = await dispatcher.DispatchAsync(new ExecRequest { BlockId = "e", Type = "echo", Pool = "cpu", Payload = ByteString.CopyFromUtf8("hi") },
                CancellationToken.None);
            Assert.Equal(ExecStatus.Ok, echo.Status);
            Assert.Equal("hi", echo.Output.ToStringUtf8());
        }
    }

    [Fact]
    public async Task AsyncLimitZero_RunsHttpRequestOnThePool()
    {
        using var upstream = new LoopbackHttpServer(context => WriteAsync(context, 200, "pooled"));
        using var dispatcher = Create(upstream, o => o.InProcess.AsyncLimit = 0);

        var result = await dispatcher.DispatchAsync(Get(upstream.BaseUrl + "/x"), CancellationToken.None);

        Assert.True(result.Status == ExecStatus.Ok, result.ErrorMessage);
    }
}
