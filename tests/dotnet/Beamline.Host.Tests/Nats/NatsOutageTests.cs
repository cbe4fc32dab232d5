using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Nats;

/// <summary>
/// NATS goes away and comes back under load: a real nats-server killed and restarted on the
/// same port, a real <c>beamline serve --nats</c> and a real <c>beamline-worker</c>. Every request
/// gets an answer (a result or a CP1 error, fast), <c>/healthz</c> says what is happening, and
/// both sides serve again without a restart.
/// </summary>
public sealed class NatsOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(5);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private NatsServer _nats = null!;
    private WorkerProcess _worker = null!;
    private ControlPlaneProcess _controlPlane = null!;
    private string _config = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("outage"), ["cpu=2"]);
        _config = await NatsTestConfig.WriteAsync();
        _controlPlane = await ControlPlaneProcess.StartAsync("--config", _config, "--nats", _nats.Url);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _controlPlane.DisposeAsync();
        await _worker.DisposeAsync();
        await _nats.DisposeAsync();
        File.Delete(_config);
    }

    [Fact]
    public async Task NatsRestartedUnderLoad_EveryRequestAnswered_ServiceBackWithin5Seconds()
    {
        var (status, health) = await HealthAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("connected", health.GetProperty("nats").GetString());
        Assert.False(string.IsNullOrEmpty(health.GetProperty("server_id").GetString()));

        // Load: blocks over HTTP (dispatched over NATS to the worker) in a loop until stopped.
        using var stop = new CancellationTokenSource();
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode Status, string Code)>();
        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (code, body) = await BlockAsync();
                outcomes.Add((code, body.TryGetProperty("error", out var error) ? error.GetProperty("code").GetString()! : "ok"));
            }
        })).ToArray();
        await Task.Delay(500);

        await _nats.KillAsync();
        // While NATS is gone: /healthz says degraded, and a block fails at once with a CP1 error.
        (status, health) = await WaitForHealthAsync(h => h.GetProperty("status").GetString() == "degraded", TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("reconnecting", health.GetProperty("nats").GetString());
        // Its deadline is 10 s: waiting would have ended in deadline_exceeded, not this.
        var (outageStatus, outageBody) = await BlockAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, outageStatus);
        Assert.Equal("resource_unavailable", outageBody.GetProperty("error").GetProperty("code").GetString());

        await Task.Delay(1000);
        await _nats.RestartAsync();
        var back = DateTime.UtcNow;
        (status, _) = await WaitForHealthAsync(h => h.GetProperty("status").GetString() == "ok", Recovery);
        Assert.Equal(HttpStatusCode.OK, status);
        // Both sides work again: a block reaches the worker, a decide reaches the control plane.
        await WaitUntilAsync(async () => (await BlockAsync()).Status == HttpStatusCode.OK, back + Recovery);
        await using var client = await NatsTestClient.ConnectAsync(_nats.Url);
        var decide = await client.RequestAsync("beamline.router.v1.decide", NatsTestConfig.Decide("after-outage"), TimeSpan.FromSeconds(10));
        using (var reply = JsonDocument.Parse(decide.Data))
        {
            Assert.True(reply.RootElement.GetProperty("ok").GetBoolean(), reply.RootElement.ToString());
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);
        // Every request of the load got one answer: a result, or one of the CP1 errors of an outage.
        Assert.NotEmpty(outcomes);
        Assert.All(outcomes, o => Assert.True(
            (o.Status == HttpStatusCode.OK && o.Code == "ok") || (o.Status == HttpStatusCode.ServiceUnavailable && o.Code is "resource_unavailable" or "no_responders"),
            $"{(int)o.Status} {o.Code}"));
        Assert.Contains(outcomes, o => o.Status == HttpStatusCode.ServiceUnavailable);
        Assert.Contains("NATS disconnected", _controlPlane.Process.Output, StringComparison.Ordinal);
        Assert.Contains("NATS connected", _controlPlane.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NatsDownAtStart_StartsDegraded_ThenServesWhenNatsComes()
    {
        await using var late = await NatsServer.StartAsync();
        await late.KillAsync();
        await using var controlPlane = await ControlPlaneProcess.StartAsync("--config", _config, "--nats", late.Url);

        var (status, health) = await HealthAsync(controlPlane);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Equal("reconnecting", health.GetProperty("nats").GetString());

        await late.RestartAsync();
        (status, _) = await WaitForHealthAsync(h => h.GetProperty("status").GetString() == "ok", TimeSpan.FromSeconds(10), controlPlane);
        Assert.Equal(HttpStatusCode.OK, status);
        await using var client = await NatsTestClient.ConnectAsync(late.Url);
        var decide = await WaitForReplyAsync(client, "beamline.router.v1.decide", NatsTestConfig.Decide("late-start"));
        using var reply = JsonDocument.Parse(decide);
        Assert.True(reply.RootElement.GetProperty("ok").GetBoolean(), reply.RootElement.ToString());
    }

    // Subscriptions follow the connection by a moment: ask until someone answers.
    private static async Task<byte[]> WaitForReplyAsync(NatsTestClient client, string subject, byte[] body)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                return (await client.RequestAsync(subject, body, TimeSpan.FromSeconds(5))).Data!;
            }
            catch (NatsNoRespondersException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(100);
            }
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> BlockAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_controlPlane.BaseAddress, "v1/blocks"))
        {
            Content = new StringContent($$"""{"type":"echo","tenant_id":"{{NatsTestConfig.Tenant}}","payload":{"n":1},"deadline_ms":10000}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NatsTestConfig.Key);
        using var response = await _http.SendAsync(request);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, body);
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> HealthAsync() => HealthAsync(_controlPlane);

    private async Task<(HttpStatusCode Status, JsonElement Body)> HealthAsync(ControlPlaneProcess controlPlane)
    {
        using var response = await _http.GetAsync(new Uri(controlPlane.BaseAddress, "healthz"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> WaitForHealthAsync(Func<JsonElement, bool> match, TimeSpan timeout,
        ControlPlaneProcess? controlPlane = null)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var health = await HealthAsync(controlPlane ?? _controlPlane);
            if (match(health.Body) || DateTime.UtcNow > until)
            {
                return health;
            }
            await Task.Delay(50);
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, DateTime until)
    {
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "the service did not come back within 5 s of NATS");
            await Task.Delay(50);
        }
    }
}
