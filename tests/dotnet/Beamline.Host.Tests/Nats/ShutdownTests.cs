using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Nats;

/// <summary>
/// SIGTERM to a real <c>beamline serve --nats</c> with blocks and decides in flight: it stops
/// taking work, finishes what it has within <c>Beamline:Shutdown:TimeoutSeconds</c>, and exits 0.
/// </summary>
public sealed class ShutdownTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private NatsServer _nats = null!;
    private WorkerProcess _worker = null!;
    private string _config = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("shutdown"), ["cpu=8"]);
        _config = await NatsTestConfig.WriteAsync(shutdownSeconds: 10);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _worker.DisposeAsync();
        await _nats.DisposeAsync();
        File.Delete(_config);
    }

    [Fact]
    public async Task Sigterm_WithBlocksAndDecidesInFlight_FinishesThemAndExitsZero()
    {
        await using var controlPlane = await ControlPlaneProcess.StartAsync("--config", _config, "--nats", _nats.Url);
        await using var client = await NatsTestClient.ConnectAsync(_nats.Url);

        // Four blocks that take 3 s each, over HTTP to the worker; and a stream of decides over NATS.
        var blocks = Enumerable.Range(0, 4).Select(_ => SleepBlockAsync(controlPlane, 3000)).ToArray();
        using var stopDecides = new CancellationTokenSource();
        var decides = Task.Run(async () =>
        {
            var answered = new List<string>();
            for (var i = 0; !stopDecides.IsCancellationRequested; i++)
            {
                try
                {
                    var reply = await client.RequestAsync("beamline.router.v1.decide", NatsTestConfig.Decide($"sigterm-{i}"), TimeSpan.FromSeconds(10));
                    answered.Add(Encoding.UTF8.GetString(reply.Data!));
                }
                catch (NatsNoRespondersException)
                {
                    break; // it stopped taking work: from now on nobody subscribes
                }
            }
            return answered;
        });
        await WaitForHeartbeatInFlightAsync(client, 4);

        controlPlane.Process.Terminate();

        var results = await Task.WhenAll(blocks);
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(results, r => Assert.Equal(_worker.WorkerId, r.Body.GetProperty("result").GetProperty("worker_id").GetString()));
        Assert.Equal(0, await controlPlane.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        List<string> answered;
        try
        {
            answered = await decides.WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (NatsNoReplyException e)
        {
            throw new InvalidOperationException("a decide got no reply; the control plane said:\n" + controlPlane.Process.Output, e);
        }
        Assert.NotEmpty(answered);
        Assert.All(answered, a => Assert.Contains("\"ok\":true", a, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sigterm_InProcess_FinishesBlocksInFlightAndExitsZero()
    {
        await using var controlPlane = await ControlPlaneProcess.StartAsync("--config", _config);
        var blocks = Enumerable.Range(0, 2).Select(_ => SleepBlockAsync(controlPlane, 2000)).ToArray();
        await Task.Delay(500);

        controlPlane.Process.Terminate();

        var results = await Task.WhenAll(blocks);
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.Equal(0, await controlPlane.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Sigterm_ExecuteOverNatsOutlastsTheShutdownTimeout_AnswersInternal()
    {
        var config = await NatsTestConfig.WriteAsync(shutdownSeconds: 2);
        try
        {
            await using var controlPlane = await ControlPlaneProcess.StartAsync("--config", config, "--nats", _nats.Url);
            await using var client = await NatsTestClient.ConnectAsync(_nats.Url);
            var execute = client.RequestAsync("beamline.router.v1.execute", Encoding.UTF8.GetBytes($$"""
                {"version":"1","tenant_id":"{{NatsTestConfig.Tenant}}","request_id":"stopping-1","policy_id":"sleep",
                 "task":{"type":"chat","payload":30000} }
                """), TimeSpan.FromSeconds(30));
            await WaitForHeartbeatInFlightAsync(client, 1);

            controlPlane.Process.Terminate();

            var reply = await execute;
            using var body = JsonDocument.Parse(reply.Data);
            var error = body.RootElement.GetProperty("error");
            Assert.Equal("internal", error.GetProperty("code").GetString());
            Assert.Equal("the control plane stopped before the execute finished", error.GetProperty("message").GetString());
            Assert.Equal(0, await controlPlane.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            File.Delete(config);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SleepBlockAsync(ControlPlaneProcess controlPlane, int ms)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(controlPlane.BaseAddress, "v1/blocks"))
        {
            Content = new StringContent($$"""{"type":"debug.sleep","tenant_id":"{{NatsTestConfig.Tenant}}","payload":"{{Convert.ToBase64String(Encoding.UTF8.GetBytes(ms.ToString(System.Globalization.CultureInfo.InvariantCulture)))}}","deadline_ms":20000}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NatsTestConfig.Key);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task WaitForHeartbeatInFlightAsync(NatsTestClient client, int inFlight)
    {
        await using var heartbeats = await client.CollectAsync("caf.worker.heartbeat.v2");
        await heartbeats.WaitForAsync(msg =>
        {
            var beat = Beamline.Worker.V2.WorkerHeartbeat.Parser.ParseFrom(msg.Data);
            return beat.WorkerId == _worker.WorkerId && beat.Pools.Any(p => p.Name == "cpu" && p.InFlight >= inFlight);
        }, TimeSpan.FromSeconds(15));
    }
}
