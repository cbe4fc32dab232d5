using System.Collections.Concurrent;
using System.Text;
using Beamline.Interop.Nats;
using Beamline.Interop.Tests.Infrastructure;
using Beamline.Testing;

namespace Beamline.Interop.Tests.Nats;

/// <summary>Against a real nats-server (started by <see cref="NatsServerFixture"/>) through libnats.</summary>
[Collection(NatsCollection.Name)]
public sealed class NatsConnectionTests(NatsServerFixture server) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly ConcurrentQueue<Exception> _callbackErrors = new();
    private NatsConnection _connection = null!;

    public Task InitializeAsync()
    {
        _connection = Connect();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        Assert.Empty(_callbackErrors);
    }

    [Fact]
    public async Task PublishSubscribe_WithHeaders_DeliversPayloadAndEveryHeaderValue()
    {
        string subject = Unique("pubsub");
        var received = new TaskCompletionSource<(string Subject, byte[] Data, string? First, NatsHeaders? All, string? ReplyTo)>(
            TaskCreationOptions.RunContinuationsAsynchronously);
        using NatsSubscription subscription = _connection.Subscribe(subject, null, msg =>
            received.TrySetResult((msg.Subject, msg.Data.ToArray(), msg.GetHeader("Beamline-Tenant"), msg.GetHeaders(), msg.ReplyTo)));
        _connection.Flush(Wait);

        var headers = new NatsHeaders { { "Beamline-Tenant", "t-1" }, { "X-Multi", "a" }, { "X-Multi", "b" } };
        _connection.Publish(subject, "payload"u8, headers: headers);

        var (gotSubject, data, first, all, replyTo) = await received.Task.WaitAsync(Wait);
        Assert.Equal(subject, gotSubject);
        Assert.Equal("payload"u8.ToArray(), data);
        Assert.Equal("t-1", first);
        Assert.NotNull(all);
        Assert.Equal(["a", "b"], all.GetValues("X-Multi"));
        Assert.Null(replyTo);
    }

    [Fact]
    public async Task Publish_WithoutHeaders_SubscriberSeesNoHeaders()
    {
        string subject = Unique("noheaders");
        var received = new TaskCompletionSource<(NatsHeaders? Headers, string? Missing)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using NatsSubscription subscription = _connection.Subscribe(subject, null, msg => received.TrySetResult((msg.GetHeaders(), msg.GetHeader("X"))));
        _connection.Flush(Wait);

        _connection.Publish(subject, []);

        var (headers, missing) = await received.Task.WaitAsync(Wait);
        Assert.Null(headers);
        Assert.Null(missing);
    }

    [Fact]
    public async Task QueueGroup_TwoMembers_EachMessageIsDeliveredOnce()
    {
        string subject = Unique("queue");
        const int Count = 200;
        var seen = new ConcurrentDictionary<int, int>();
        int total = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handle(NatsMsg msg)
        {
            seen.AddOrUpdate(int.Parse(Encoding.ASCII.GetString(msg.Data), System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            if (Interlocked.Increment(ref total) == Count)
            {
                done.TrySetResult();
            }
        }

        using NatsSubscription first = _connection.Subscribe(subject, "workers", Handle);
        using NatsSubscription second = _connection.Subscribe(subject, "workers", Handle);
        _connection.Flush(Wait);

        for (int i = 0; i < Count; i++)
        {
            _connection.Publish(subject, Encoding.ASCII.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        await done.Task.WaitAsync(Wait);
        _connection.Flush(Wait);
        Assert.Equal(Count, seen.Count);
        Assert.All(seen.Values, n => Assert.Equal(1, n));
        Assert.Equal(Count, Volatile.Read(ref total));
    }

    [Fact]
    public async Task RequestAsync_1000Concurrent_AllCompleteWithTheirOwnPayloads()
    {
        string subject = Unique("echo");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg => msg.Respond(msg.Data));
        _connection.Flush(Wait);

        Task<NatsReply>[] requests = Enumerable.Range(0, 1000)
            .Select(i => _connection.RequestAsync(subject, Encoding.UTF8.GetBytes($"request-{i}"), null, Wait))
            .ToArray();
        NatsReply[] replies = await Task.WhenAll(requests);

        for (int i = 0; i < replies.Length; i++)
        {
            Assert.Equal($"request-{i}", Encoding.UTF8.GetString(replies[i].Data.Span));
            Assert.StartsWith("_INBOX.", replies[i].Subject, StringComparison.Ordinal);
        }

        // One muxed inbox: every reply subject shares the same prefix.
        Assert.Single(replies.Select(r => r.Subject[..r.Subject.LastIndexOf('.')]).Distinct());
    }

    [Fact]
    public async Task RequestAsync_WithHeaders_ResponderSeesThemAndReplyHeadersComeBack()
    {
        string subject = Unique("headers");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg =>
            msg.Respond(Encoding.UTF8.GetBytes(msg.GetHeader("traceparent") ?? "none"), new NatsHeaders { { "Reply-Header", "yes" } }));
        _connection.Flush(Wait);

        NatsReply reply = await _connection.RequestAsync(subject, "x"u8.ToArray(), new NatsHeaders { { "traceparent", "00-abc-def-01" } }, Wait);

        Assert.Equal("00-abc-def-01", Encoding.UTF8.GetString(reply.Data.Span));
        Assert.NotNull(reply.Headers);
        Assert.Equal("yes", reply.Headers["Reply-Header"]);
    }

    [Fact]
    public async Task RequestAsync_ReplySubject_IsTheReplyToTheResponderSaw()
    {
        string subject = Unique("replyto");
        var replyTo = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg =>
        {
            replyTo.TrySetResult(msg.ReplyTo);
            msg.Respond("ok"u8);
        });
        _connection.Flush(Wait);

        NatsReply reply = await _connection.RequestAsync(subject, "x"u8.ToArray(), null, Wait);

        // The subject is built on demand from the inbox and the token: it must still be the real one.
        Assert.Equal(await replyTo.Task.WaitAsync(Wait), reply.Subject);
        Assert.Equal(reply.Subject, reply.Subject);
    }

    [Fact]
    public async Task RequestAsync_SkipReplyHeaders_KeepsPayloadAndSubjectWithoutHeaders()
    {
        string subject = Unique("skipheaders");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg =>
            msg.Respond("payload"u8, new NatsHeaders { { "Reply-Header", "yes" } }));
        _connection.Flush(Wait);

        NatsReply skipped = await _connection.RequestAsync(subject, "x"u8.ToArray(), null, Wait, NatsReplyHeaders.Skip);
        NatsReply read = await _connection.RequestAsync(subject, "x"u8.ToArray(), null, Wait, NatsReplyHeaders.Read);

        Assert.Equal("payload"u8.ToArray(), skipped.Data.ToArray());
        Assert.StartsWith("_INBOX.", skipped.Subject, StringComparison.Ordinal);
        Assert.Null(skipped.Headers);
        Assert.NotNull(read.Headers);
        Assert.Equal("yes", read.Headers["Reply-Header"]);
    }

    [Fact]
    public void RequestAsync_UndefinedReplyHeaders_ThrowsBeforeSending() =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            _ = _connection.RequestAsync(Unique("bad"), "x"u8.ToArray(), null, Wait, (NatsReplyHeaders)7);
        });

    [Fact]
    public void NatsReply_Constructed_KeepsItsSubject()
    {
        var reply = new NatsReply("_INBOX.abc.1", "d"u8.ToArray(), null);

        Assert.Equal("_INBOX.abc.1", reply.Subject);
    }

    [Fact]
    public async Task RequestAsync_NoSubscriber_ThrowsNoResponders()
    {
        // A long timeout: reaching it would fail the test with a timeout instead.
        Task<NatsReply> request = _connection.RequestAsync(Unique("nobody"), "x"u8.ToArray(), null, TimeSpan.FromSeconds(30));

        var error = await Assert.ThrowsAsync<NatsNoRespondersException>(() => request.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(NatsStatus.NoResponders, error.Status);
    }

    [Fact]
    public async Task RequestAsync_NoSubscriberWithHeaders_ThrowsNoResponders()
    {
        Task<NatsReply> request = _connection.RequestAsync(Unique("nobody"), "x"u8.ToArray(), new NatsHeaders { { "A", "b" } }, TimeSpan.FromSeconds(30));

        await Assert.ThrowsAsync<NatsNoRespondersException>(() => request.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task RequestAsync_SlowResponder_ThrowsTimeoutAndLateReplyIsDropped()
    {
        string subject = Unique("slow");
        var lateReplySent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg =>
        {
            // Answer later from another thread: never block the delivery thread.
            string replyTo = msg.ReplyTo!;
            _ = Task.Run(async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                _connection.Publish(replyTo, "late"u8);
                lateReplySent.TrySetResult();
            });
        });
        _connection.Flush(Wait);

        var error = await Assert.ThrowsAsync<NatsTimeoutException>(() =>
            _connection.RequestAsync(subject, "x"u8.ToArray(), null, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(NatsStatus.Timeout, error.Status);

        await lateReplySent.Task.WaitAsync(Wait);
        _connection.Flush(Wait);

        // The connection still works after a late reply reached the inbox.
        using NatsSubscription echo = _connection.Subscribe(subject + ".echo", null, msg => msg.Respond(msg.Data));
        _connection.Flush(Wait);
        NatsReply reply = await _connection.RequestAsync(subject + ".echo", "ok"u8.ToArray(), null, Wait);
        Assert.Equal("ok", Encoding.UTF8.GetString(reply.Data.Span));
    }

    [Fact]
    public async Task RequestAsync_Cancelled_ThrowsOperationCanceled()
    {
        string subject = Unique("cancel");
        using NatsSubscription silent = _connection.Subscribe(subject, null, _ => { });
        _connection.Flush(Wait);
        using var cts = new CancellationTokenSource();

        Task<NatsReply> request = _connection.RequestAsync(subject, "x"u8.ToArray(), null, TimeSpan.FromSeconds(30), cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitAsync(Wait));
    }

    [Fact]
    public async Task RequestAsync_AlreadyCancelled_ReturnsCanceledTask()
    {
        Task<NatsReply> request = _connection.RequestAsync(Unique("x"), "x"u8.ToArray(), null, Wait, new CancellationToken(canceled: true));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
    }

    [Fact]
    public async Task RequestManyAsync_ChunksThenFinal_YieldsAllInOrderAndStopsAtLast()
    {
        string subject = Unique("stream");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg =>
        {
            for (int i = 0; i < 5; i++)
            {
                msg.Respond(Encoding.UTF8.GetBytes($"chunk-{i}"));
            }

            msg.Respond("final"u8, new NatsHeaders { { "Beamline-Final", "1" } });
        });
        _connection.Flush(Wait);

        var replies = new List<string>();
        await foreach (NatsReply reply in _connection.RequestManyAsync(subject, "go"u8.ToArray(), null,
                           r => r.Headers?.ContainsKey("Beamline-Final") == true, Wait))
        {
            replies.Add(Encoding.UTF8.GetString(reply.Data.Span));
        }

        Assert.Equal(["chunk-0", "chunk-1", "chunk-2", "chunk-3", "chunk-4", "final"], replies);
    }

    [Fact]
    public async Task RequestManyAsync_NoSubscriber_ThrowsNoResponders()
    {
        await Assert.ThrowsAsync<NatsNoRespondersException>(async () =>
        {
            await foreach (NatsReply reply in _connection.RequestManyAsync(Unique("nobody"), "x"u8.ToArray(), null, _ => false, TimeSpan.FromSeconds(30)))
            {
                Assert.Fail("No reply was expected.");
            }
        }).WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task RequestManyAsync_ResponderGoesQuiet_ThrowsTimeoutAfterWhatCame()
    {
        string subject = Unique("quiet");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg => msg.Respond("only"u8));
        _connection.Flush(Wait);

        var replies = new List<string>();
        await Assert.ThrowsAsync<NatsTimeoutException>(async () =>
        {
            await foreach (NatsReply reply in _connection.RequestManyAsync(subject, "x"u8.ToArray(), null, _ => false, TimeSpan.FromMilliseconds(300)))
            {
                replies.Add(Encoding.UTF8.GetString(reply.Data.Span));
            }
        });

        Assert.Equal(["only"], replies);
    }

    [Fact]
    public async Task RequestManyAsync_Cancelled_ThrowsOperationCanceled()
    {
        string subject = Unique("manycancel");
        using NatsSubscription responder = _connection.Subscribe(subject, null, msg => msg.Respond("first"u8));
        _connection.Flush(Wait);
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (NatsReply reply in _connection.RequestManyAsync(subject, "x"u8.ToArray(), null, _ => false, TimeSpan.FromSeconds(30), cts.Token))
            {
                await cts.CancelAsync();
            }
        });
    }

    [Fact]
    public async Task DrainAsync_HandlersFinishWhatWasReceived_ThenTheConnectionCloses()
    {
        await using NatsConnection connection = Connect();
        string subject = Unique("drain");
        const int Count = 100;
        int handled = 0;
        NatsSubscription subscription = connection.Subscribe(subject, null, _ =>
        {
            Thread.Sleep(1); // a slow handler: drain must wait for it
            Interlocked.Increment(ref handled);
        });
        connection.Flush(Wait);
        for (int i = 0; i < Count; i++)
        {
            connection.Publish(subject, "x"u8);
        }

        connection.Flush(Wait);
        await connection.DrainAsync(Wait);

        Assert.Equal(Count, Volatile.Read(ref handled));
        Assert.True(connection.IsClosed);
        await subscription.Completion.WaitAsync(Wait);
        subscription.Dispose();
        Assert.ThrowsAny<NatsException>(() => connection.Publish(subject, "x"u8));
    }

    [Fact]
    public async Task SubscriptionDrainAsync_CompletesAndStopsDelivery()
    {
        string subject = Unique("subdrain");
        int handled = 0;
        NatsSubscription subscription = _connection.Subscribe(subject, null, _ => Interlocked.Increment(ref handled));
        _connection.Flush(Wait);
        _connection.Publish(subject, "x"u8);
        _connection.Flush(Wait);

        await subscription.DrainAsync(Wait);
        int afterDrain = Volatile.Read(ref handled);
        _connection.Publish(subject, "y"u8);
        _connection.Flush(Wait);
        subscription.Dispose();

        Assert.True(subscription.Completion.IsCompleted);
        Assert.Equal(afterDrain, Volatile.Read(ref handled));
    }

    [Fact]
    public async Task SubscriptionDispose_StopsDeliveryAndCompletes()
    {
        string subject = Unique("dispose");
        int handled = 0;
        NatsSubscription subscription = _connection.Subscribe(subject, null, _ => Interlocked.Increment(ref handled));
        _connection.Flush(Wait);

        await subscription.DisposeAsync();
        _connection.Publish(subject, "x"u8);
        _connection.Flush(Wait);

        Assert.True(subscription.Completion.IsCompleted);
        Assert.Equal(0, Volatile.Read(ref handled));
    }

    [Fact]
    public async Task HandlerThrows_ErrorIsReportedAndDeliveryGoesOn()
    {
        var errors = new ConcurrentQueue<Exception>();
        await using NatsConnection connection = NatsConnection.Connect(new NatsConnectionOptions
        {
            Url = server.Url,
            CallbackErrorHandler = errors.Enqueue,
        });
        string subject = Unique("throws");
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using NatsSubscription subscription = connection.Subscribe(subject, null, msg =>
        {
            if (msg.Data.SequenceEqual("boom"u8))
            {
                throw new InvalidOperationException("boom");
            }

            second.TrySetResult();
        });
        connection.Flush(Wait);

        connection.Publish(subject, "boom"u8);
        connection.Publish(subject, "fine"u8);

        await second.Task.WaitAsync(Wait);
        Exception error = Assert.Single(errors);
        Assert.Equal("boom", error.Message);
    }

    [Fact]
    public async Task Dispose_WithRequestPending_FailsItWithNatsException()
    {
        NatsConnection connection = Connect();
        string subject = Unique("pending");
        connection.Subscribe(subject, null, _ => { });
        connection.Flush(Wait);

        Task<NatsReply> request = connection.RequestAsync(subject, "x"u8.ToArray(), null, TimeSpan.FromSeconds(30));
        await connection.DisposeAsync();

        var error = await Assert.ThrowsAsync<NatsException>(() => request.WaitAsync(Wait));
        Assert.Equal(NatsStatus.ConnectionClosed, error.Status);
        Assert.Throws<ObjectDisposedException>(() => connection.Publish(subject, "x"u8));
    }

    [Fact]
    public void Connect_NoServerListening_ThrowsNatsExceptionWithClearMessage()
    {
        string url = $"nats://127.0.0.1:{FreePort.Next()}";

        var error = Assert.Throws<NatsException>(() => NatsConnection.Connect(new NatsConnectionOptions
        {
            Url = url,
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
        }));

        Assert.Equal(NatsStatus.NoServer, error.Status);
        Assert.Contains(url, error.Message, StringComparison.Ordinal);
        Assert.Contains("No server available", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Connect_InvalidOptions_ThrowsArgumentException()
    {
        Assert.ThrowsAny<ArgumentException>(() => NatsConnection.Connect(new NatsConnectionOptions { Url = " " }));
        Assert.ThrowsAny<ArgumentException>(() => NatsConnection.Connect(new NatsConnectionOptions { Url = server.Url, ConnectTimeout = TimeSpan.Zero }));
    }

    private NatsConnection Connect() => NatsConnection.Connect(new NatsConnectionOptions
    {
        Url = server.Url,
        Name = "beamline-interop-tests",
        CallbackErrorHandler = _callbackErrors.Enqueue,
    });

    private static string Unique(string name) => $"test.{name}.{Guid.NewGuid():N}";
}
