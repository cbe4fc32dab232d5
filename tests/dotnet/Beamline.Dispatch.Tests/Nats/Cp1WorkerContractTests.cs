using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Beamline.Interop.Nats;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// The CP1 worker contract as an existing Beamline router uses it: ExecAssignment JSON on
/// caf.exec.assign.v1, acks on caf.exec.assign.v1.ack, results on caf.exec.result.v1.
/// </summary>
[Collection(WorkerClusterCollection.Name)]
public sealed class Cp1WorkerContractTests(WorkerClusterFixture cluster)
{
    private sealed class Observer : IDisposable
    {
        private readonly NatsSubscription _acks;
        private readonly NatsSubscription _results;

        public Observer(NatsConnection connection)
        {
            _acks = connection.Subscribe("caf.exec.assign.v1.ack", null, msg => Acks.Add(Encoding.UTF8.GetString(msg.Data)));
            _results = connection.Subscribe("caf.exec.result.v1", null, msg => Results.Add(Encoding.UTF8.GetString(msg.Data)));
            connection.Flush(TimeSpan.FromSeconds(5));
        }

        public ConcurrentBag<string> Acks { get; } = [];

        public ConcurrentBag<string> Results { get; } = [];

        public async Task<JsonElement> WaitAsync(ConcurrentBag<string> bag, string assignmentId, int count = 1)
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (true)
            {
                var matching = bag.Select(j => JsonDocument.Parse(j).RootElement.Clone())
                    .Where(e => e.TryGetProperty("assignment_id", out var id) && id.GetString() == assignmentId)
                    .ToList();
                if (matching.Count >= count)
                {
                    return matching[0];
                }
                Assert.True(DateTime.UtcNow < until, $"no message for {assignmentId}; acks: {string.Join("; ", Acks)} results: {string.Join("; ", Results)}");
                await Task.Delay(20);
            }
        }

        public void Dispose()
        {
            _acks.Dispose();
            _results.Dispose();
        }
    }

    private static byte[] Assignment(string id, string type, string payloadJson) => Encoding.UTF8.GetBytes($$$"""
        {"version":"1","assignment_id":"{{{id}}}","request_id":"req-{{{id}}}","tenant_id":"tenant-a","trace_id":"trace-{{{id}}}",
         "executor":{"provider_id":"local-worker"},"job":{"type":"{{{type}}}","payload":{{{payloadJson}}}},"options":{"deadline_ms":5000}}
        """);

    [Fact]
    public async Task Assignment_IsAcceptedThenAnsweredWithASuccessResult()
    {
        await using var connection = NatsConnection.Connect(new NatsConnectionOptions { Url = cluster.Nats.Url });
        using var observer = new Observer(connection);
        var id = Guid.NewGuid().ToString("N");
        connection.Publish("caf.exec.assign.v1", Assignment(id, "echo", """{"answer":42}"""));

        var ack = await observer.WaitAsync(observer.Acks, id);
        Assert.Equal("accepted", ack.GetProperty("status").GetString());
        var result = await observer.WaitAsync(observer.Results, id);
        Assert.Equal("success", result.GetProperty("status").GetString());
        Assert.Equal(42, result.GetProperty("output").GetProperty("answer").GetInt32());
        Assert.Equal($"req-{id}", result.GetProperty("request_id").GetString());
        Assert.Equal(JsonValueKind.Number, result.GetProperty("latency_ms").ValueKind);
        Assert.Equal(JsonValueKind.Number, result.GetProperty("cost").ValueKind);
    }

    [Fact]
    public async Task DuplicateAssignmentId_IsNotExecutedTwice()
    {
        await using var connection = NatsConnection.Connect(new NatsConnectionOptions { Url = cluster.Nats.Url });
        using var observer = new Observer(connection);
        var id = Guid.NewGuid().ToString("N");
        connection.Publish("caf.exec.assign.v1", Assignment(id, "echo", "\"once\""));
        await observer.WaitAsync(observer.Results, id);
        connection.Publish("caf.exec.assign.v1", Assignment(id, "echo", "\"once\""));
        await observer.WaitAsync(observer.Acks, id, count: 2);
        // The second ack says duplicate; give a second result every chance to show up, then check none did.
        await Task.Delay(300);
        Assert.Single(observer.Results, r => r.Contains(id, StringComparison.Ordinal));
        Assert.Contains(observer.Acks, a => a.Contains(id, StringComparison.Ordinal) && a.Contains("\"duplicate\":true", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MalformedAssignment_IsRejectedAndTheWorkerKeepsServing()
    {
        await using var connection = NatsConnection.Connect(new NatsConnectionOptions { Url = cluster.Nats.Url });
        using var observer = new Observer(connection);
        var id = Guid.NewGuid().ToString("N");
        connection.Publish("caf.exec.assign.v1", Encoding.UTF8.GetBytes($$$"""{"assignment_id":"{{{id}}}","request_id":"r","job":{}}"""));
        var ack = await observer.WaitAsync(observer.Acks, id);
        Assert.Equal("rejected", ack.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(ack.GetProperty("message").GetString()));

        var next = Guid.NewGuid().ToString("N");
        connection.Publish("caf.exec.assign.v1", Assignment(next, "noop", "null"));
        Assert.Equal("success", (await observer.WaitAsync(observer.Results, next)).GetProperty("status").GetString());
    }
}
