using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Beamline.Testing;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Beamline.Host.Tests.Nats;

/// <summary>
/// The NATS permissions the docs give (control/src/Beamline.Cli/examples/nats-permissions.conf,
/// docs/operations.md) on a real nats-server: with them a control plane and a worker in its most
/// demanding mode (CP1 on JetStream, block dedupe on every type) do their work, a router client
/// decides, and that client can neither reach the workers' subjects nor read the control plane's answers.
/// </summary>
public sealed class NatsPermissionsTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly string PermissionsFile = Path.Combine(RepoPaths.Root, "control", "src", "Beamline.Cli", "examples", "nats-permissions.conf");
    private static readonly string ExampleConfig = Path.Combine(RepoPaths.Root, "control", "src", "Beamline.Cli", "examples", "beamline.example.json");

    private NatsServer _nats = null!;
    private ControlPlaneProcess _control = null!;
    private WorkerProcess _worker = null!;
    private NatsTestClient _routerClient = null!;
    private NatsTestClient _controlClient = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync(jetStream: true, "-c", PermissionsFile);
        _control = await ControlPlaneProcess.StartAsync(
            new Dictionary<string, string>
            {
                ["Beamline__Nats__User"] = "control",
                ["Beamline__Nats__Password"] = "example-control-secret",
                ["Beamline__Nats__InboxPrefix"] = "_INBOX_control",
            },
            "--config", ExampleConfig, "--nats", _nats.Url);
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("perm"), ["cpu=2"],
            "--user", "worker", "--password", "example-worker-secret", "--inbox-prefix", "_INBOX_worker",
            "--cp1-jetstream", "on", "--block-dedupe", "on", "--cp1-idempotent-types", "none");
        _routerClient = await NatsTestClient.ConnectAsync(_nats.Url, NatsOpts.Default with
        {
            AuthOpts = new NatsAuthOpts { Username = "router_client", Password = "example-router-client-secret" },
            InboxPrefix = "_INBOX_router",
        });
        _controlClient = await NatsTestClient.ConnectAsync(_nats.Url, NatsOpts.Default with
        {
            AuthOpts = new NatsAuthOpts { Username = "control", Password = "example-control-secret" },
            InboxPrefix = "_INBOX_control",
        });
    }

    public async Task DisposeAsync()
    {
        foreach (var part in new IAsyncDisposable?[] { _routerClient, _controlClient, _worker, _control, _nats })
        {
            if (part is not null)
            {
                await part.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task TheRouterClient_Decides()
    {
        var reply = await _routerClient.RequestAsync("beamline.router.v1.decide", Cp1Fixtures.Request("decide_request_task_form.json"), Wait);

        using var answer = JsonDocument.Parse(reply.Data);
        Assert.True(answer.RootElement.GetProperty("ok").GetBoolean(), answer.RootElement.ToString());
    }

    [Fact]
    public async Task TheWorker_RunsAGuardedBlockOnce_ThroughTheControlPlane()
    {
        using var http = new HttpClient { Timeout = Wait };
        var blockId = Guid.NewGuid().ToString("N");
        var body = $$$"""{"tenant_id":"tenant_abc123","block_id":"{{{blockId}}}","type":"echo","pool":"cpu","payload":{"x":1}}""";

        var first = await PostBlockAsync(http, body);
        var again = await PostBlockAsync(http, body);

        Assert.Equal(_worker.WorkerId, first.GetProperty("result").GetProperty("worker_id").GetString());
        // Stored in beamline-block-results (the worker's KV permissions) and answered again from there.
        Assert.Equal(first.GetProperty("result").GetProperty("output").GetString(), again.GetProperty("result").GetProperty("output").GetString());
        await _worker.Process.WaitForLineAsync("already ran; replying its stored result", Wait);
        AssertNothingRefused();
    }

    [Fact]
    public async Task TheWorker_TakesCp1AssignmentsFromTheStream()
    {
        await using var results = await _controlClient.CollectAsync("caf.exec.result.v1");
        var id = Guid.NewGuid().ToString("N");
        var js = new NatsJSContext(_controlClient.Connection);
        var assignment = Encoding.UTF8.GetBytes($$$"""
            {"version":"1","assignment_id":"{{{id}}}","request_id":"req-{{{id}}}","tenant_id":"tenant_abc123",
             "executor":{"provider_id":"local-worker"},"job":{"type":"echo","payload":"hi"},"options":{"deadline_ms":10000}}
            """);
        // The stream exists once the worker made it (the worker's JetStream permissions).
        await _worker.Process.WaitForLineAsync("beamline-worker ready", Wait);
        var ack = await js.PublishAsync("caf.exec.assign.v1", assignment, opts: new NatsJSPubOpts { MsgId = id });
        Assert.Null(ack.Error);

        var result = await results.WaitForAsync(m => Encoding.UTF8.GetString(m.Data ?? []).Contains(id, StringComparison.Ordinal), Wait);

        using var answer = JsonDocument.Parse(result.Data);
        Assert.Equal("success", answer.RootElement.GetProperty("status").GetString());
        // Nothing the worker did was refused (heartbeats, acks, claims and results included).
        AssertNothingRefused();
    }

    [Fact]
    public async Task TheRouterClient_CannotReachTheWorkers()
    {
        var block = Encoding.UTF8.GetBytes("not a block");
        // The control plane's user reaches the worker's pool (an answer, if only an error) ...
        var reached = await _controlClient.RequestAsync("caf.exec.v2.cpu", block, Wait);
        Assert.NotNull(reached.Data);

        // ... the router client's publish is refused by the server: nothing reaches the worker.
        await Assert.ThrowsAnyAsync<Exception>(() => _routerClient.RequestAsync("caf.exec.v2.cpu", block, TimeSpan.FromSeconds(2)));
        // ... nor read the blocks, or the answers meant for the control plane.
        await using var sneaking = await _routerClient.CollectAsync("caf.exec.v2.>");
        await using var eavesdropping = await _routerClient.CollectAsync("_INBOX_control.>");
        Assert.NotNull((await _controlClient.RequestAsync("caf.exec.v2.cpu", block, Wait)).Data);
        Assert.Empty(sneaking.Messages);
        Assert.Empty(eavesdropping.Messages);
    }

    // nats.c reports a refused publish or subscription as an asynchronous "Not Permitted" error, which the worker logs.
    private void AssertNothingRefused()
    {
        Assert.DoesNotContain("Not Permitted", _worker.Process.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Permissions Violation", _worker.Process.Output, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<JsonElement> PostBlockAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_control.BaseAddress, "v1/blocks"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
