using System.Text;
using System.Text.Json;
using Beamline.Testing;
using NATS.Client.JetStream;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// <c>push_assignment</c> with <c>Beamline:Assignments:JetStream</c>: the control plane makes the
/// work-queue stream, publishes each assignment with <c>Nats-Msg-Id</c> = its id and says
/// <c>published</c> only once the stream acknowledged it; a worker in JetStream mode runs it.
/// Without JetStream on the server the decision says the assignment was not stored.
/// </summary>
public sealed class PushAssignmentJetStreamTests : IAsyncDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly Dictionary<string, string> JetStreamOn = new() { ["Beamline__Assignments__JetStream"] = "true" };
    private readonly List<IAsyncDisposable> _owned = [];

    [Fact]
    public async Task DecideWithPushAssignment_IsStoredInTheStreamWithItsIdAndRunByAJetStreamWorker()
    {
        var nats = Own(await NatsServer.StartAsync(jetStream: true));
        var controlPlane = Own(await ControlPlaneProcess.StartAsync(JetStreamOn, "--config", RepoPaths.ExampleConfig, "--nats", nats.Url));
        var client = Own(await NatsTestClient.ConnectAsync(nats.Url));
        var assignments = Own(await client.CollectAsync("caf.exec.assign.v1"));
        var results = Own(await client.CollectAsync("caf.exec.result.v1"));

        // Published before any worker runs: the stream keeps it until one takes it.
        var reply = await DecideAsync(client, "req-js-1");
        Assert.Equal("published", reply.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString());
        var assignment = await assignments.WaitForAsync(m => Parse(m.Data).GetProperty("request_id").GetString() == "req-js-1", Wait);
        var assignmentId = Parse(assignment.Data).GetProperty("assignment_id").GetString()!;
        Assert.Equal(assignmentId, assignment.Headers?["Nats-Msg-Id"].ToString());
        var js = new NatsJSContext(client.Connection);
        var stream = await js.GetStreamAsync("BEAMLINE_CP1_ASSIGN");
        Assert.Equal(NATS.Client.JetStream.Models.StreamConfigRetention.Workqueue, stream.Info.Config.Retention);
        Assert.Equal(1, stream.Info.State.Messages);

        var worker = Own(await WorkerProcess.StartAsync(nats.Url, WorkerProcess.NewId("js-push"), ["cpu=2"], "--cp1-jetstream", "on"));
        var result = Parse((await results.WaitForAsync(m => Parse(m.Data).GetProperty("assignment_id").GetString() == assignmentId, Wait)).Data);
        Assert.Equal(worker.WorkerId, result.GetProperty("worker_id").GetString());
        Assert.Equal("req-js-1", result.GetProperty("request_id").GetString());
        Assert.Equal("unknown_executor", result.GetProperty("error_code").GetString()); // no "chat" executor on a worker
        // Acked (just after its result is published): gone from the work queue.
        using var acked = new CancellationTokenSource(Wait);
        while (stream.Info.State.Messages > 0)
        {
            await Task.Delay(50, acked.Token);
            await stream.RefreshAsync(acked.Token);
        }
        _ = controlPlane;
    }

    [Fact]
    public async Task AResultPublishedWhileTheRouterWasAway_IsStillInTheResultsStream()
    {
        var nats = Own(await NatsServer.StartAsync(jetStream: true));
        var controlPlane = Own(await ControlPlaneProcess.StartAsync(JetStreamOn, "--config", RepoPaths.ExampleConfig, "--nats", nats.Url));
        Own(await WorkerProcess.StartAsync(nats.Url, WorkerProcess.NewId("js-results"), ["cpu=2"], "--cp1-jetstream", "on"));
        var client = Own(await NatsTestClient.ConnectAsync(nats.Url));
        var js = new NatsJSContext(client.Connection);
        await controlPlane.Process.WaitForLineAsync("results are kept in BEAMLINE_CP1_RESULTS", Wait); // made at start, before any push

        // Nobody listens on caf.exec.result.v1 but the control plane: a router reading later finds the result in the stream.
        var reply = await DecideAsync(client, "req-js-kept");
        Assert.Equal("published", reply.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString());
        var consumer = await js.CreateOrderedConsumerAsync("BEAMLINE_CP1_RESULTS");
        using var timeout = new CancellationTokenSource(Wait);
        JsonElement? kept = null;
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: timeout.Token))
        {
            if (Parse(msg.Data).GetProperty("request_id").GetString() == "req-js-kept")
            {
                kept = Parse(msg.Data);
                break;
            }
        }

        Assert.Equal("unknown_executor", kept?.GetProperty("error_code").GetString());
        var stream = await js.GetStreamAsync("BEAMLINE_CP1_RESULTS");
        Assert.Equal(NATS.Client.JetStream.Models.StreamConfigRetention.Limits, stream.Info.Config.Retention);
    }

    [Fact]
    public async Task DecideWithPushAssignment_WithoutJetStreamOnTheServer_SaysTheAssignmentWasNotStored()
    {
        var nats = Own(await NatsServer.StartAsync());
        Own(await ControlPlaneProcess.StartAsync(JetStreamOn, "--config", RepoPaths.ExampleConfig, "--nats", nats.Url));
        var client = Own(await NatsTestClient.ConnectAsync(nats.Url));

        var reply = await DecideAsync(client, "req-js-none");

        var assignment = reply.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString();
        Assert.StartsWith("not_published: JetStream did not store it: ", assignment, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private T Own<T>(T owned)
        where T : IAsyncDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    private static async Task<JsonElement> DecideAsync(NatsTestClient client, string requestId)
    {
        var request = $$$"""
            {"version":"1","tenant_id":"tenant_abc123","request_id":"{{{requestId}}}",
             "task":{"type":"chat","payload":{"text":"hello"}},"push_assignment":true}
            """;
        var reply = await client.RequestAsync("beamline.router.v1.decide", Encoding.UTF8.GetBytes(request), Wait);
        return Parse(reply.Data);
    }

    private static JsonElement Parse(byte[]? data)
    {
        using var document = JsonDocument.Parse(data ?? []);
        return document.RootElement.Clone();
    }
}
