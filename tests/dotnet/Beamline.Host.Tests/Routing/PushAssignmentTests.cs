using System.Text;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// <c>push_assignment</c> end to end: a decide over NATS publishes the CP1 ExecAssignment, and a
/// real <c>beamline-worker</c> (CP1 worker contract on) decodes it, acks it and publishes its
/// result, all correlated by <c>assignment_id</c>.
/// </summary>
public sealed class PushAssignmentTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private NatsTestClient.Collector _assignments = null!;
    private NatsTestClient.Collector _acks = null!;
    private NatsTestClient.Collector _results = null!;
    private NatsServer _nats = null!;
    private WorkerProcess _worker = null!;
    private ControlPlaneProcess _controlPlane = null!;
    private NatsTestClient _client = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId("push"), ["cpu=2"], "--cp1", "on");
        _controlPlane = await ControlPlaneProcess.StartAsync("--config", RepoPaths.ExampleConfig, "--nats", _nats.Url);
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
        _assignments = await _client.CollectAsync("caf.exec.assign.v1");
        _acks = await _client.CollectAsync("caf.exec.assign.v1.ack");
        _results = await _client.CollectAsync("caf.exec.result.v1");
    }

    public async Task DisposeAsync()
    {
        foreach (var collector in new[] { _assignments, _acks, _results })
        {
            if (collector is not null)
            {
                await collector.DisposeAsync();
            }
        }
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_controlPlane is not null)
        {
            await _controlPlane.DisposeAsync();
        }
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
    }

    [Fact]
    public async Task DecideWithPushAssignment_WorkerAcksAndAnswersTheAssignment()
    {
        var request = """
            {"version":"1","tenant_id":"tenant_abc123","request_id":"req-push-1","trace_id":"trace-push-1",
             "task":{"type":"chat","payload":{"text":"hello"}},"push_assignment":true,"metadata":{"source":"test"}}
            """;
        var reply = await _client.RequestAsync("beamline.router.v1.decide", Encoding.UTF8.GetBytes(request), Wait);
        using var decided = JsonDocument.Parse(reply.Data);
        var decision = decided.RootElement.GetProperty("decision");
        Assert.Equal("published", decision.GetProperty("metadata").GetProperty("assignment").GetString());
        var providerId = decision.GetProperty("provider_id").GetString();

        // The assignment, in the CP1 shape of the public router's router_caf_adapter.
        var assignment = await FirstAsync(_assignments, a => a.GetProperty("request_id").GetString() == "req-push-1");
        var assignmentId = assignment.GetProperty("assignment_id").GetString()!;
        Assert.True(Guid.TryParse(assignmentId, out _), assignmentId);
        Assert.Equal("1", assignment.GetProperty("version").GetString());
        Assert.Equal("tenant_abc123", assignment.GetProperty("tenant_id").GetString());
        Assert.Equal(providerId, assignment.GetProperty("executor").GetProperty("provider_id").GetString());
        Assert.Equal("nats", assignment.GetProperty("executor").GetProperty("channel").GetString());
        Assert.Equal("chat", assignment.GetProperty("job").GetProperty("type").GetString());
        Assert.Equal("hello", assignment.GetProperty("job").GetProperty("payload").GetProperty("text").GetString());
        Assert.InRange(assignment.GetProperty("options").GetProperty("deadline_ms").GetInt64(), 5_000, 60_000);
        Assert.Equal("trace-push-1", assignment.GetProperty("correlation").GetProperty("trace_id").GetString());
        Assert.Equal(providerId, assignment.GetProperty("decision").GetProperty("provider_id").GetString());
        Assert.Equal("test", assignment.GetProperty("metadata").GetProperty("source").GetString());

        // The worker decoded it: an ack and a result for the same assignment (no executor is
        // called "chat" on this worker, so the block itself answers unknown_executor).
        var ack = await FirstAsync(_acks, a => a.GetProperty("assignment_id").GetString() == assignmentId);
        Assert.Equal("accepted", ack.GetProperty("status").GetString());
        var result = await FirstAsync(_results, r => r.GetProperty("assignment_id").GetString() == assignmentId);
        Assert.Equal("req-push-1", result.GetProperty("request_id").GetString());
        Assert.Equal("error", result.GetProperty("status").GetString());
        Assert.Equal("unknown_executor", result.GetProperty("error_code").GetString());
    }

    private static JsonElement Parse(byte[]? data)
    {
        using var document = JsonDocument.Parse(data ?? []);
        return document.RootElement.Clone();
    }

    private static async Task<JsonElement> FirstAsync(NatsTestClient.Collector collector, Func<JsonElement, bool> match) =>
        Parse((await collector.WaitForAsync(msg => match(Parse(msg.Data)), Wait)).Data);
}
