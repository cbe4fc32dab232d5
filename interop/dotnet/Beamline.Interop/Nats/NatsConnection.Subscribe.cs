using System.Collections.Concurrent;

namespace Beamline.Interop.Nats;

public sealed partial class NatsConnection
{
    private readonly ConcurrentDictionary<NatsSubscription, byte> _subscriptions = new();

    /// <summary>Subscribes to a subject, optionally in a queue group (each message goes to one member of the group).</summary>
    /// <param name="subject">The subject; may contain wildcards (<c>*</c>, <c>&gt;</c>).</param>
    /// <param name="queueGroup">The queue group, or <see langword="null"/>.</param>
    /// <param name="handler">
    /// Runs for each message on the client's delivery thread for this subscription, one message at a time.
    /// It must not block: hand long work to another thread. Its exceptions go to
    /// <see cref="NatsConnectionOptions.CallbackErrorHandler"/>.
    /// </param>
    /// <exception cref="NatsException">The subscription failed.</exception>
    public NatsSubscription Subscribe(string subject, string? queueGroup, NatsMessageHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentNullException.ThrowIfNull(handler);
        if (queueGroup is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(queueGroup);
        }

        ThrowIfDisposed();
        var subscription = new NatsSubscription(this, subject, queueGroup, handler);
        subscription.Start();
        _subscriptions.TryAdd(subscription, 0);
        return subscription;
    }

    internal void Forget(NatsSubscription subscription) => _subscriptions.TryRemove(subscription, out _);
}
