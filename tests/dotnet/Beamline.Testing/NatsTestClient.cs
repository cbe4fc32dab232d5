using System.Collections.Concurrent;
using NATS.Client.Core;

namespace Beamline.Testing;

/// <summary>
/// A NATS.Net client as a test's other party: publish, request, and subscriptions that collect
/// what arrives so that a test can wait for it.
/// </summary>
public sealed class NatsTestClient : IAsyncDisposable
{
    private NatsTestClient(NatsConnection connection) => Connection = connection;

    /// <summary>The underlying connection.</summary>
    public NatsConnection Connection { get; }

    /// <summary>Connects to <paramref name="url"/> (and fails if it cannot).</summary>
    public static async Task<NatsTestClient> ConnectAsync(string url, NatsOpts? opts = null)
    {
        var connection = new NatsConnection((opts ?? NatsOpts.Default) with { Url = url, Name = "beamline-test" });
        await connection.ConnectAsync().ConfigureAwait(false);
        return new NatsTestClient(connection);
    }

    /// <summary>Publishes <paramref name="data"/>.</summary>
    public ValueTask PublishAsync(string subject, byte[] data, NatsHeaders? headers = null) =>
        Connection.PublishAsync(subject, data, headers);

    /// <summary>One request, one reply (throws <see cref="NatsNoReplyException"/> on timeout).</summary>
    public async Task<NatsMsg<byte[]>> RequestAsync(string subject, byte[] data, TimeSpan timeout, NatsHeaders? headers = null)
    {
        return await Connection.RequestAsync<byte[], byte[]>(subject, data, headers,
            replyOpts: new NatsSubOpts { Timeout = timeout }).ConfigureAwait(false);
    }

    /// <summary>Subscribes and collects every message; the server has the subscription when this returns.</summary>
    public async Task<Collector> CollectAsync(string subject, string? queueGroup = null)
    {
        var subscription = await Connection.SubscribeCoreAsync<byte[]>(subject, queueGroup).ConfigureAwait(false);
        await Connection.PingAsync().ConfigureAwait(false);
        return new Collector(subscription);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Connection.DisposeAsync();

    /// <summary>The messages of one subscription, in order of arrival.</summary>
    public sealed class Collector : IAsyncDisposable
    {
        private readonly INatsSub<byte[]> _subscription;
        private readonly ConcurrentQueue<NatsMsg<byte[]>> _messages = new();
        private readonly Task _pump;
        private readonly SemaphoreSlim _arrived = new(0);

        internal Collector(INatsSub<byte[]> subscription)
        {
            _subscription = subscription;
            _pump = Task.Run(async () =>
            {
                await foreach (var msg in subscription.Msgs.ReadAllAsync())
                {
                    _messages.Enqueue(msg);
                    _arrived.Release();
                }
            });
        }

        /// <summary>What has arrived so far.</summary>
        public IReadOnlyList<NatsMsg<byte[]>> Messages => [.. _messages];

        /// <summary>Waits until a message satisfying <paramref name="match"/> has arrived, and returns it.</summary>
        public async Task<NatsMsg<byte[]>> WaitForAsync(Func<NatsMsg<byte[]>, bool> match, TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            while (true)
            {
                foreach (var msg in _messages)
                {
                    if (match(msg))
                    {
                        return msg;
                    }
                }
                try
                {
                    await _arrived.WaitAsync(cancel.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"no matching message on {_subscription.Subject} within {timeout}; {_messages.Count} arrived");
                }
            }
        }

        /// <inheritdoc />
        public async ValueTask DisposeAsync()
        {
            await _subscription.UnsubscribeAsync().ConfigureAwait(false);
            await _pump.ConfigureAwait(false);
            await _subscription.DisposeAsync().ConfigureAwait(false);
            _arrived.Dispose();
        }
    }
}
