using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary>
/// The control plane as users run it: the real <c>beamline serve</c> process, a real HTTP client,
/// and for the distributed path a real nats-server and beamline-worker.
/// </summary>
public sealed class ServeEndToEndTests : IAsyncLifetime
{
    private NatsServer? _nats;
    private WorkerProcess? _worker;
    private ControlPlaneProcess? _embedded;
    private ControlPlaneProcess? _distributed;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    private ControlPlaneProcess Embedded => _embedded!;

    private ControlPlaneProcess Distributed => _distributed!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("http"));
        _embedded = await ControlPlaneProcess.StartAsync();
        _distributed = await ControlPlaneProcess.StartAsync("--nats", _nats.Url);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        foreach (var process in new IAsyncDisposable?[] { _distributed, _embedded, _worker, _nats })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(ControlPlaneProcess host, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(host.BaseAddress, "v1/blocks"), content);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body);
    }

    [Fact]
    public async Task Healthz_SaysWhereBlocksRun()
    {
        var embedded = await _http.GetFromJsonAsync<JsonElement>(new Uri(Embedded.BaseAddress, "healthz"));
        var distributed = await _http.GetFromJsonAsync<JsonElement>(new Uri(Distributed.BaseAddress, "healthz"));
        Assert.Equal("ok", embedded.GetProperty("status").GetString());
        Assert.Equal("in-process", embedded.GetProperty("mode").GetString());
        Assert.Equal("nats", distributed.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task PostBlock_Echo_EmbeddedAndDistributedAnswerTheSameOutput()
    {
        const string json = """{"type":"echo","tenant_id":"tenant-a","payload":{"question":"2+2","n":4},"deadline_ms":5000}""";
        var (embeddedStatus, embedded) = await PostAsync(Embedded, json);
        var (distributedStatus, distributed) = await PostAsync(Distributed, json);

        Assert.Equal(HttpStatusCode.OK, embeddedStatus);
        Assert.Equal(HttpStatusCode.OK, distributedStatus);
        var embeddedResult = embedded.GetProperty("result");
        var distributedResult = distributed.GetProperty("result");
        Assert.Equal("""{"question":"2+2","n":4}""",
            Encoding.UTF8.GetString(Convert.FromBase64String(embeddedResult.GetProperty("output").GetString()!)));
        Assert.Equal(embeddedResult.GetProperty("output").GetString(), distributedResult.GetProperty("output").GetString());
        Assert.Equal("in-process", embeddedResult.GetProperty("worker_id").GetString());
        Assert.Equal(_worker!.WorkerId, distributedResult.GetProperty("worker_id").GetString());
    }

    [Fact]
    public async Task PostBlock_MissingTenant_Answers400InCp1Shape()
    {
        var (status, body) = await PostAsync(Embedded, """{"type":"echo"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("ok").GetBoolean());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("tenant_id", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    [Fact]
    public async Task PostBlock_NotJson_Answers400()
    {
        var (status, body) = await PostAsync(Embedded, "{{{");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task PostBlock_UnknownType_Answers400UnknownExecutor_BothPaths()
    {
        foreach (var host in new[] { Embedded, Distributed })
        {
            var (status, body) = await PostAsync(host, """{"type":"no.such","tenant_id":"t"}""");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("unknown_executor", body.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("no.such", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PostBlock_PoolWithoutWorkers_Answers503NoResponders()
    {
        var (status, body) = await PostAsync(Distributed, """{"type":"echo","tenant_id":"t","pool":"nobody"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("no_responders", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task PostBlock_WorkerTooSlow_Answers504()
    {
        var (status, body) = await PostAsync(Distributed, """{"type":"debug.sleep","tenant_id":"t","payload":"NTAwMA==","deadline_ms":200}""");
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("deadline_exceeded", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task PostBlock_OversizedBody_Answers413BeforeReadingIt()
    {
        // As a well-behaved client sends a large body: Expect: 100-continue, so the server can
        // refuse it from Content-Length alone, without the body ever being sent.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Embedded.BaseAddress, "v1/blocks"))
        {
            Content = new ByteArrayContent(new byte[9 * 1024 * 1024]),
        };
        request.Headers.ExpectContinue = true;
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(8 * 1024 * 1024, body.GetProperty("error").GetProperty("details").GetProperty("limit_bytes").GetInt32());
    }

    [Fact]
    public async Task Host_SurvivesBadRequests_AndStillServes()
    {
        for (var i = 0; i < 20; i++)
        {
            await PostAsync(Embedded, i % 2 == 0 ? "\u0000\u0001" : """{"type":"echo","tenant_id":"t","payload":"@@"}""");
        }
        var (status, _) = await PostAsync(Embedded, """{"type":"noop","tenant_id":"t"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(Embedded.Process.IsRunning);
    }
}
