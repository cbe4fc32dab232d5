using System.Text;
using System.Text.Json;
using Beamline.Testing;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Beamline.Dispatch.Tests.Nats;

/// <summary>
/// CP1 assignments on the JetStream work-queue stream (<c>--cp1-jetstream on</c>), against a real
/// nats-server with JetStream and real worker processes: the stream drops a re-published id, a
/// stored result is answered again rather than run again, an assignment whose worker is killed
/// mid-block goes to another worker (which runs it again only when it is idempotent), a full pool
/// naks and the assignment runs later, an undecodable one is terminated.
/// </summary>
public sealed class Cp1JetStreamWorkerTests : IAsyncLifetime
{
    private const string Subject = "caf.exec.assign.v1";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly List<WorkerProcess> _workers = [];
    private NatsServer _nats = null!;
    private NatsTestClient _client = null!;
    private NatsJSContext _js = null!;
    private NatsTestClient.Collector _acks = null!;
    private NatsTestClient.Collector _results = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync(jetStream: true);
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
        _js = new NatsJSContext(_client.Connection);
        _acks = await _client.CollectAsync("caf.exec.assign.v1.ack");
        _results = await _client.CollectAsync("caf.exec.result.v1");
    }

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }
        if (_acks is not null)
        {
            await _acks.DisposeAsync();
        }
        if (_results is not null)
        {
            await _results.DisposeAsync();
        }
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
    }

    [Fact]
    public async Task RepublishedAssignmentId_IsStoredOnceAndRunOnce()
    {
        await StartWorkerAsync("js-dedupe", "cpu=1");
        var id = Guid.NewGuid().ToString("N");
        var first = await PublishAsync(Assignment(id, "echo", "\"once\""), msgId: id);
        var again = await PublishAsync(Assignment(id, "echo", "\"once\""), msgId: id);

        Assert.False(first.Duplicate);
        Assert.True(again.Duplicate);
        Assert.Equal(first.Seq, again.Seq);
        Assert.Equal("once", (await ResultAsync(id)).GetProperty("output").GetString());
        // One worker slot and one stream: a second copy would have come before this one.
        var next = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(next, "echo", "\"next\""), msgId: next);
        await ResultAsync(next);
        await WaitAsync(_acks, next); // acks and results come on separate subscriptions
        Assert.Single(Messages(_results, id));
        Assert.Single(Messages(_acks, id));
    }

    [Fact]
    public async Task AssignmentWithAStoredResult_GetsThatResultFromAnotherWorker_NotASecondRun()
    {
        var firstWorker = await StartWorkerAsync("js-first", "cpu=1");
        var id = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(id, "echo", "\"stored\""), msgId: id);
        var result = await ResultAsync(id);
        Assert.Equal(firstWorker.WorkerId, result.GetProperty("worker_id").GetString());
        await firstWorker.DisposeAsync();
        _workers.Remove(firstWorker);

        // The same assignment again, past the stream's dedupe (another message id: a second
        // control plane, or the duplicate window gone by): the other worker finds the stored
        // result and publishes it again, byte for byte, instead of running the block.
        var secondWorker = await StartWorkerAsync("js-second", "cpu=1");
        await PublishAsync(Assignment(id, "echo", "\"stored\""), msgId: id + "-again");
        var duplicateAck = await WaitAsync(_acks, id, count: 2);
        Assert.Equal(secondWorker.WorkerId, duplicateAck.GetProperty("worker_id").GetString());
        Assert.True(duplicateAck.GetProperty("duplicate").GetBoolean());
        await WaitAsync(_results, id, count: 2);
        var results = Messages(_results, id);
        Assert.Equal(2, results.Count);
        Assert.Equal(results[0], results[1]);
        await secondWorker.Process.WaitForLineAsync("has a stored result", Wait);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WorkerKilledMidBlock_TheAssignmentGoesToAnotherWorker_WhichRunsItAgainOnlyWhenIdempotent(bool idempotent)
    {
        // A short ack wait, so that the redelivery comes soon after the kill.
        var firstWorker = await StartWorkerAsync("js-killed", "cpu=1", "--cp1-ack-wait-ms", "1000");
        var id = Guid.NewGuid().ToString("N");
        // The claim goes stale at its deadline plus the ack wait (5 s): only then may the heir
        // answer for the dead worker (before, the worker might only be cut off and still answer).
        await PublishAsync(Assignment(id, "debug.sleep", "\"3000\"", deadlineMs: 4_000), msgId: id);
        var accepted = await WaitAsync(_acks, id);
        Assert.Equal(firstWorker.WorkerId, accepted.GetProperty("worker_id").GetString());
        await firstWorker.DisposeAsync(); // SIGKILL, mid-block: no result, no ack
        _workers.Remove(firstWorker);

        // debug.sleep has no effect outside the block: idempotent unless configured otherwise.
        var secondWorker = idempotent
            ? await StartWorkerAsync("js-heir", "cpu=1")
            : await StartWorkerAsync("js-heir", "cpu=1", "--cp1-idempotent-types", "echo");
        var result = await ResultAsync(id);

        Assert.Equal(secondWorker.WorkerId, result.GetProperty("worker_id").GetString());
        if (idempotent)
        {
            Assert.Equal("success", result.GetProperty("status").GetString());
            await secondWorker.Process.WaitForLineAsync("is idempotent: running it again", Wait);
        }
        else
        {
            Assert.Equal("error", result.GetProperty("status").GetString());
            Assert.Equal("worker_lost", result.GetProperty("error_code").GetString());
            Assert.Contains(firstWorker.WorkerId, result.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        }
        Assert.Single(Messages(_results, id));
    }

    [Fact]
    public async Task WorkerCutOffMidBlock_AnswersWithItsResultOnceBack_TheRedeliveryWaitsInsteadOfAnsweringWorkerLost()
    {
        // Cut off (frozen) past the ack wait: the assignment is redelivered to the other worker,
        // which finds the claim and no result. The frozen worker is not lost: it finishes and
        // stores its result once it runs again, before its claim goes stale (deadline + ack wait).
        var runner = await StartWorkerAsync("js-frozen", "cpu=1", "--cp1-ack-wait-ms", "1000", "--cp1-idempotent-types", "none");
        var id = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(id, "debug.sleep", "\"1000\"", deadlineMs: 10_000), msgId: id);
        await WaitAsync(_acks, id);
        runner.Process.Pause();
        var heir = await StartWorkerAsync("js-waiting", "cpu=1", "--cp1-idempotent-types", "none");
        await heir.Process.WaitForLineAsync("which may still store its result", Wait);
        runner.Process.Resume();

        var result = await ResultAsync(id);

        Assert.Equal("success", result.GetProperty("status").GetString());
        Assert.Equal(runner.WorkerId, result.GetProperty("worker_id").GetString());
        // The runner's ack ends the deliveries; one the heir took before it finds the stored
        // result and publishes it again. Never worker_lost.
        Assert.DoesNotContain("answering worker_lost", heir.Process.Output, StringComparison.Ordinal);
        Assert.All(Messages(_results, id), json => Assert.Contains("\"success\"", json, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithBlockDedupeOn_AnAssignmentIsClaimedByTheStreamOnly_NotAgainByTheBlockGate()
    {
        // The assignment's claim already runs it at most once; a second claim on the block would
        // answer worker_lost for the worker's own run when its create's reply is lost with NATS.
        await StartWorkerAsync("js-gated", "cpu=1", "--block-dedupe", "on", "--cp1-idempotent-types", "none");
        var id = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(id, "debug.sleep", "\"10\""), msgId: id);

        Assert.Equal("success", (await ResultAsync(id)).GetProperty("status").GetString());
        var blockClaims = await _js.GetStreamAsync("KV_beamline-block-results",
            new NATS.Client.JetStream.Models.StreamInfoRequest { SubjectsFilter = "$KV.beamline-block-results.claim.>" });
        Assert.Equal(0, blockClaims.Info.State.Subjects?.Count ?? 0);
    }

    [Fact]
    public async Task BlockLongerThanTheAckWait_IsKeptInProgress_NotRedeliveredToAnotherWorker()
    {
        var runner = await StartWorkerAsync("js-long", "cpu=1", "--cp1-ack-wait-ms", "1000");
        var id = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(id, "debug.sleep", "\"3500\"", deadlineMs: 30_000), msgId: id);
        await WaitAsync(_acks, id);
        // Ready to take a redelivery, and one that would answer it at once (worker_lost) rather
        // than after its own run: without in-progress acks its answer would come first.
        await StartWorkerAsync("js-idle", "cpu=1", "--cp1-idempotent-types", "none");

        var result = await ResultAsync(id);

        Assert.Equal(runner.WorkerId, result.GetProperty("worker_id").GetString());
        Assert.Equal("success", result.GetProperty("status").GetString());
        Assert.Single(Messages(_results, id));
    }

    [Fact]
    public async Task FullPool_NaksTheAssignment_WhichRunsOnceTheSlotIsFree()
    {
        // Enough deliveries that the waiting one outlasts the slow block however slow this machine is.
        var worker = await StartWorkerAsync("js-full", "cpu=1", "--queue-limit", "0", "--cp1-nak-delay-ms", "200", "--cp1-max-deliver", "1000");
        var slow = Guid.NewGuid().ToString("N");
        var waiting = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(slow, "debug.sleep", "\"1500\""), msgId: slow);
        await WaitAsync(_acks, slow);
        await PublishAsync(Assignment(waiting, "echo", "\"later\""), msgId: waiting);

        var result = await ResultAsync(waiting);

        Assert.Equal("success", result.GetProperty("status").GetString());
        Assert.Equal("later", result.GetProperty("output").GetString());
        Assert.Equal("success", (await ResultAsync(slow)).GetProperty("status").GetString());
        // The worker's log is read apart from NATS: waited for, not looked up.
        await worker.Process.WaitForLineAsync($"assignment '{waiting}' (delivery 1) nak'd: pool 'cpu' is full", Wait);
        // A refused delivery gives its claim back: the next one claims afresh, not as a lost worker's.
        Assert.DoesNotContain("claim could not be written", worker.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("running it again", worker.Process.Output, StringComparison.Ordinal);
        // Nak'd deliveries are not answered: the first ack (acks keep their order) is the accepted
        // one of the delivery that ran, and there is one result.
        Assert.Equal("accepted", (await WaitAsync(_acks, waiting)).GetProperty("status").GetString());
        Assert.Single(Messages(_acks, waiting));
        Assert.Single(Messages(_results, waiting));
    }

    [Fact]
    public async Task UndecodableAssignment_IsRejectedAndTerminated_NotRedelivered()
    {
        await StartWorkerAsync("js-term", "cpu=1");
        await using var terminated = await _client.CollectAsync("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.BEAMLINE_CP1_ASSIGN.beamline-cp1-workers");
        var id = Guid.NewGuid().ToString("N");
        var ack = await PublishAsync(Encoding.UTF8.GetBytes($$$"""{"assignment_id":"{{{id}}}","request_id":"r","job":{}}"""), msgId: id);

        var rejected = await WaitAsync(_acks, id);
        Assert.Equal("rejected", rejected.GetProperty("status").GetString());
        Assert.Equal("invalid_request", (await ResultAsync(id)).GetProperty("error_code").GetString());
        var advisory = Parse((await terminated.WaitForAsync(m => Parse(m.Data).GetProperty("stream_seq").GetUInt64() == ack.Seq, Wait)).Data);
        Assert.Equal(1, advisory.GetProperty("deliveries").GetInt32());
    }

    [Fact]
    public async Task Sigterm_FinishesAndAcksTheRunningAssignment_AndLeavesTheRestToAnotherWorker()
    {
        var draining = await StartWorkerAsync("js-drain", "cpu=1");
        var running = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(running, "debug.sleep", "\"1000\""), msgId: running);
        await WaitAsync(_acks, running);

        draining.Process.Terminate();
        // Published once the drain has begun (before, the worker may still take it, rightly).
        await draining.Process.WaitForLineAsync("draining", Wait);
        var next = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(next, "echo", "\"next\""), msgId: next);
        Assert.Equal(0, await draining.Process.WaitForExitAsync(Wait));
        Assert.Equal("success", (await ResultAsync(running)).GetProperty("status").GetString());

        var heir = await StartWorkerAsync("js-after-drain", "cpu=1");
        Assert.Equal(heir.WorkerId, (await ResultAsync(next)).GetProperty("worker_id").GetString());
        // Both acked (a result is published just before its ack), the drained one not run again.
        var stream = await _js.GetStreamAsync("BEAMLINE_CP1_ASSIGN");
        using var acked = new CancellationTokenSource(Wait);
        while (stream.Info.State.Messages > 0)
        {
            await Task.Delay(50, acked.Token);
            await stream.RefreshAsync(acked.Token);
        }
        Assert.Single(Messages(_results, running));
    }

    [Fact]
    public async Task NatsServerRestart_TheWorkerPullsAgain_AndAnAssignmentStoredBeforeTheOutageRunsOnce()
    {
        await StartWorkerAsync("js-restart", "cpu=1");
        var before = Guid.NewGuid().ToString("N");
        await PublishAsync(Assignment(before, "echo", "\"before\""), msgId: before);
        await ResultAsync(before);

        await _nats.KillAsync();
        await _nats.RestartAsync(); // same store: the stream, consumer and bucket come back
        var after = Guid.NewGuid().ToString("N");
        using (var reconnected = new CancellationTokenSource(Wait))
        {
            while (true)
            {
                try
                {
                    await PublishAsync(Assignment(after, "echo", "\"after\""), msgId: after);
                    break;
                }
                catch (NatsException) when (!reconnected.IsCancellationRequested)
                {
                    await Task.Delay(100, reconnected.Token); // the test's own client still reconnecting
                }
            }
        }

        Assert.Equal("after", (await ResultAsync(after)).GetProperty("output").GetString());
        Assert.Single(Messages(_results, before));
    }

    private async Task<WorkerProcess> StartWorkerAsync(string prefix, string pool, params string[] extraArgs)
    {
        var worker = await WorkerProcess.StartAsync(_nats.Url, WorkerProcess.NewId(prefix), [pool], ["--cp1-jetstream", "on", .. extraArgs]);
        _workers.Add(worker);
        return worker;
    }

    private async Task<NATS.Client.JetStream.Models.PubAckResponse> PublishAsync(byte[] body, string msgId)
    {
        var ack = await _js.PublishAsync(Subject, body, opts: new NatsJSPubOpts { MsgId = msgId });
        Assert.Null(ack.Error);
        return ack;
    }

    private static byte[] Assignment(string id, string type, string payloadJson, int deadlineMs = 10_000) => Encoding.UTF8.GetBytes($$$"""
        {"version":"1","assignment_id":"{{{id}}}","request_id":"req-{{{id}}}","tenant_id":"tenant-a",
         "executor":{"provider_id":"local-worker"},"job":{"type":"{{{type}}}","payload":{{{payloadJson}}}},"options":{"deadline_ms":{{{deadlineMs}}}}}
        """);

    private Task<JsonElement> ResultAsync(string id) => WaitAsync(_results, id);

    // The count-th message about assignment id, once it has arrived.
    private static async Task<JsonElement> WaitAsync(NatsTestClient.Collector collector, string id, int count = 1)
    {
        await collector.WaitForAsync(_ => Messages(collector, id).Count >= count, Wait);
        return JsonDocument.Parse(Messages(collector, id)[count - 1]).RootElement.Clone();
    }

    private static List<string> Messages(NatsTestClient.Collector collector, string id) =>
        [.. collector.Messages.Where(m => Matches(m, id)).Select(m => Encoding.UTF8.GetString(m.Data ?? []))];

    private static bool Matches(NatsMsg<byte[]> msg, string id) =>
        Parse(msg.Data).TryGetProperty("assignment_id", out var value) && value.GetString() == id;

    private static JsonElement Parse(byte[]? data)
    {
        using var document = JsonDocument.Parse(data ?? []);
        return document.RootElement.Clone();
    }
}
