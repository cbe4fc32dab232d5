using System.Collections.Concurrent;
using System.Text;
using Beamline.Interop.Nats;
using Beamline.Interop.Tests.Infrastructure;

namespace Beamline.Interop.Tests.Nats;

/// <summary>
/// <see cref="NatsReplyBatcher"/> against a real nats-server: replies from a batching connection
/// (SendAsap off) reach their requesters whether the handler is idle or has a queue, and without
/// waiting for nats.c's flusher (a lone request would otherwise wait for it; how long each path
/// takes is measured by the decide benchmark, not asserted here).
/// </summary>
[Collection(NatsCollection.Name)]
public sealed class NatsReplyBatcherTests(NatsServerFixture server) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly ConcurrentQueue<Exception> _callbackErrors = new();
    private NatsConnection _batched = null!;
    private NatsConnection _immediate = null!;
    private NatsConnection _requester = null!;

    public Task InitializeAsync()
    {
        _batched = Connect("batched", sendAsap: false);
        _immediate = Connect("immediate", sendAsap: true);
        _requester = Connect("requester", sendAsap: true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _requester.DisposeAsync();
        await _batched.DisposeAsync();
        await _immediate.DisposeAsync();
        Assert.Empty(_callbackErrors);
    }

    [Fact]
    public async Task Respond_OneRequestAtATime_EveryReplyArrives()
    {
        var (subject, subscription) = Serve();
        using (subscription)
        {
            for (var i = 0; i < 20; i++)
            {
                var reply = await _requester.RequestAsync(subject, Encoding.UTF8.GetBytes($"one-{i}"), null, Wait);
                Assert.Equal($"re:one-{i}", Encoding.UTF8.GetString(reply.Data.Span));
            }
            Assert.Equal(0, _batched.BufferedBytes);
        }
    }

    [Fact]
    public async Task Respond_ManyInFlight_EveryReplyArrivesOnceAndMatches()
    {
        var (subject, subscription) = Serve(handlerDelay: TimeSpan.FromMilliseconds(1));
        using (subscription)
        {
            // The slow handler builds a queue, so most replies take the batched path.
            var replies = await Task.WhenAll(Enumerable.Range(0, 300)
                .Select(i => _requester.RequestAsync(subject, Encoding.UTF8.GetBytes($"many-{i}"), null, Wait)));

            for (var i = 0; i < replies.Length; i++)
            {
                Assert.Equal($"re:many-{i}", Encoding.UTF8.GetString(replies[i].Data.Span));
            }
            Assert.Equal(0, _batched.BufferedBytes);
        }
    }

    [Fact]
    public void PendingMessagesAndBufferedBytes_AfterDispose_AreZero()
    {
        var connection = Connect("disposed", sendAsap: false);
        var subscription = connection.Subscribe(Unique("gone"), null, _ => { });
        subscription.Dispose();
        connection.Dispose();

        Assert.Equal(0, subscription.PendingMessages);
        Assert.Equal(0, connection.BufferedBytes);
        Assert.False(connection.TryFlush(TimeSpan.FromMilliseconds(10)));
    }

    private (string Subject, NatsSubscription Subscription) Serve(TimeSpan handlerDelay = default)
    {
        var subject = Unique("batcher");
        var replies = new NatsReplyBatcher(_batched, _immediate);
        NatsSubscription? subscription = null;
        subscription = _batched.Subscribe(subject, null, msg =>
        {
            if (handlerDelay > TimeSpan.Zero)
            {
                Thread.Sleep(handlerDelay);
            }
            var answer = Encoding.UTF8.GetBytes("re:" + Encoding.UTF8.GetString(msg.Data));
            replies.Respond(msg, answer, Volatile.Read(ref subscription)!);
        });
        _batched.Flush(Wait);
        return (subject, subscription);
    }

    private NatsConnection Connect(string name, bool sendAsap) => NatsConnection.Connect(new NatsConnectionOptions
    {
        Url = server.Url,
        Name = "beamline-batcher-tests-" + name,
        SendAsap = sendAsap,
        CallbackErrorHandler = _callbackErrors.Enqueue,
    });

    private static string Unique(string name) => $"test.{name}.{Guid.NewGuid():N}";
}
