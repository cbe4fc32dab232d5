using System.Text;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// The CP1 worker contract as an existing Beamline router uses it: ExecAssignment JSON on
/// caf.exec.assign.v1, acks on caf.exec.assign.v1.ack, results on caf.exec.result.v1.
/// </summary>
[Collection(WorkerClusterCollection.Name)]
public sealed class Cp1WorkerContractTests(WorkerClusterFixture cluster)
{
    private sealed class Observer(NatsTestClient.Collector acks, NatsTestClient.Collector results) : IAsyncDisposable
    {
        public static async Task<Observer> StartAsync(NatsTestClient client) =>
            new(await client.CollectAsync("caf.exec.assign.v1.ack"), await client.CollectAsync("caf.exec.result.v1"));

        // Live views: each enumeration reads what has arrived by then.
        public IEnumerable<string> Acks => Texts(acks);

        public IEnumerable<string> Results => Texts(results);

        private static IEnumerable<string> Texts(NatsTestClient.Collector collector)
        {
            foreach (var msg in collector.Messages)
            {
                yield return Encoding.UTF8.GetString(msg.Data ?? []);
            }
        }

        public async Task<JsonElement> WaitAsync(IEnumerable<string> bag, string assignmentId, int count = 1)
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

        public async ValueTask DisposeAsync()
        {
            await acks.DisposeAsync();
            await results.DisposeAsync();
        }
    }

    private static byte[] Assignment(string id, string type, string payloadJson) => Encoding.UTF8.GetBytes($$$"""
        {"version":"1","assignment_id":"{{{id}}}","request_id":"req-{{{id}}}","tenant_id":"tenant-a","trace_id":"trace-{{{id}}}",
         "executor":{"provider_id":"local-worker"},"job":{"type":"{{{type}}}","payload":{{{payloadJson}}}},"options":{"deadline_ms":5000}}
        """);

    [Fact]
    public async Task Assignment_IsAcceptedThenAnsweredWithASuccessResult()
    {
        await using var connection = await NatsTestClient.ConnectAsync(cluster.Nats.Url);
        await using var observer = await Observer.StartAsync(connection);
        var id = Guid.NewGuid().ToString("N");
        await connection.PublishAsync("caf.exec.assign.v1", Assignment(id, "echo", """{"answer":42}"""));

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
    public async Task DuplicateAssignmentId_IsNotExecutedTwice_TheStoredOutcomeIsPublishedAgain()
    {
        await using var connection = await NatsTestClient.ConnectAsync(cluster.Nats.Url);
        await using var observer = await Observer.StartAsync(connection);
        var id = Guid.NewGuid().ToString("N");
        await connection.PublishAsync("caf.exec.assign.v1", Assignment(id, "echo", "\"once\""));
        var first = await observer.WaitAsync(observer.Results, id);
        // A redelivery (its first result was lost, say): acked as a duplicate, answered with the
        // outcome of the one execution — the same result, down to its timestamp.
        await connection.PublishAsync("caf.exec.assign.v1", Assignment(id, "echo", "\"once\""));
        await observer.WaitAsync(observer.Acks, id, count: 2);
        await observer.WaitAsync(observer.Results, id, count: 2);
        Assert.Contains(observer.Acks, a => a.Contains(id, StringComparison.Ordinal) && a.Contains("\"duplicate\":true", StringComparison.Ordinal));
        var results = observer.Results.Where(r => r.Contains(id, StringComparison.Ordinal))
            .Select(r => JsonDocument.Parse(r).RootElement.Clone()).ToList();
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(first.GetProperty("timestamp").GetInt64(), r.GetProperty("timestamp").GetInt64()));
        Assert.All(results, r => Assert.Equal("once", r.GetProperty("output").GetString()));
    }

    [Fact]
    public async Task MalformedAssignment_IsRejectedAndTheWorkerKeepsServing()
    {
        await using var connection = await NatsTestClient.ConnectAsync(cluster.Nats.Url);
        await using var observer = await Observer.StartAsync(connection);
        var id = Guid.NewGuid().ToString("N");
        await connection.PublishAsync("caf.exec.assign.v1", Encoding.UTF8.GetBytes($$$"""{"assignment_id":"{{{id}}}","request_id":"r","job":{}}"""));
        var ack = await observer.WaitAsync(observer.Acks, id);
        Assert.Equal("rejected", ack.GetProperty("status").GetString());
        Assert.False(string.IsNullOrEmpty(ack.GetProperty("message").GetString()));

        var next = Guid.NewGuid().ToString("N");
        await connection.PublishAsync("caf.exec.assign.v1", Assignment(next, "noop", "null"));
        Assert.Equal("success", (await observer.WaitAsync(observer.Results, next)).GetProperty("status").GetString());
    }
}
