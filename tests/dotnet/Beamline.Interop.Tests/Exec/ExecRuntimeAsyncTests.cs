using System.Net;
using System.Text;
using System.Text.Json;
using Beamline.Interop.Exec;
using Beamline.Testing;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Interop.Tests.Exec;

/// <summary>
/// <see cref="ExecRuntime.TryStartAsync"/> (C ABI version 3, execute_async) against the real library and a
/// loopback upstream.
/// </summary>
public sealed class ExecRuntimeAsyncTests : IDisposable
{
    private readonly CancellationTokenSource _serverStop = new();
    private readonly LoopbackHttpServer _upstream;
    private readonly ExecRuntime _runtime;

    public ExecRuntimeAsyncTests()
    {
        _upstream = new LoopbackHttpServer(AnswerAsync, concurrent: true);
        var port = new Uri(_upstream.BaseUrl).Port;
        _runtime = ExecRuntime.Create(configJson: Config(port));
    }

    private static string Config(int port) =>
        "{\"http\": {\"allow\": {\"t\": [\"127.0.0.1:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\"]}}}";

    public void Dispose()
    {
        _runtime.Dispose();
        _serverStop.Cancel();
        _upstream.Dispose();
        _serverStop.Dispose();
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        if (context.Request.Url!.AbsolutePath == "/hang")
        {
            await Task.Delay(60_000, _serverStop.Token);
        }
        var body = Encoding.UTF8.GetBytes("hello");
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    private byte[] Request(string type, string payload) =>
        new ExecRequest { BlockId = "a-1", TenantId = "t", Type = type, Payload = ByteString.CopyFromUtf8(payload) }.ToByteArray();

    private byte[] Get(string path) => Request("http.request", JsonSerializer.Serialize(new { url = _upstream.BaseUrl + path }));

    private sealed class Receiver : ExecAsyncReceiver
    {
        private int _results;

        public TaskCompletionSource<ExecResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Results => Volatile.Read(ref _results);

        public int ThreadId { get; private set; }

        public override void OnResult(ReadOnlySpan<byte> encodedResult)
        {
            Interlocked.Increment(ref _results);
            ThreadId = Environment.CurrentManagedThreadId;
            Result.TrySetResult(ExecResult.Parser.ParseFrom(encodedResult));
        }
    }

    [Fact]
    public async Task TryStartAsync_HttpRequest_ResultArrivesOnceFromTheEventThread()
    {
        var receiver = new Receiver();

        Assert.True(_runtime.TryStartAsync(Get("/hello"), receiver, CancellationToken.None));

        var result = await receiver.Result.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.Status == ExecStatus.Ok, result.ErrorMessage);
        Assert.Equal("a-1", result.BlockId);
        using var output = JsonDocument.Parse(result.Output.Memory);
        Assert.Equal("aGVsbG8=", output.RootElement.GetProperty("body_base64").GetString());
        Assert.Equal(1, receiver.Results);
        Assert.NotEqual(Environment.CurrentManagedThreadId, receiver.ThreadId);
    }

    [Fact]
    public void TryStartAsync_TypeWithoutAsyncPath_ReturnsFalseAndCallsNothing()
    {
        var receiver = new Receiver();

        Assert.False(_runtime.TryStartAsync(Request("echo", "hi"), receiver, CancellationToken.None));

        Assert.Equal(0, receiver.Results);
    }

    [Fact]
    public async Task TryStartAsync_TokenAlreadyCancelled_EndsCancelledBeforeReturning()
    {
        var receiver = new Receiver();

        Assert.True(_runtime.TryStartAsync(Get("/hello"), receiver, new CancellationToken(canceled: true)));

        Assert.True(receiver.Result.Task.IsCompleted);
        Assert.Equal(ExecStatus.Cancelled, (await receiver.Result.Task).Status);
    }

    [Fact]
    public async Task TryStartAsync_TokenCancelledWhileWaiting_StopsTheTransfer()
    {
        var receiver = new Receiver();
        using var cts = new CancellationTokenSource();
        Assert.True(_runtime.TryStartAsync(Get("/hang"), receiver, cts.Token));
        await Task.Delay(100);

        await cts.CancelAsync();

        var result = await receiver.Result.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal("cancelled", result.ErrorCode);
    }

    [Fact]
    public async Task Dispose_WhileABlockRuns_KeepsTheRuntimeUntilItEnds()
    {
        var port = new Uri(_upstream.BaseUrl).Port;
        var runtime = ExecRuntime.Create(configJson: Config(port));
        var receiver = new Receiver();
        using var cts = new CancellationTokenSource();
        Assert.True(runtime.TryStartAsync(Get("/hang"), receiver, cts.Token));

        runtime.Dispose(); // deferred: the running block holds a reference
        await cts.CancelAsync();

        Assert.Equal(ExecStatus.Cancelled, (await receiver.Result.Task.WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }
}
