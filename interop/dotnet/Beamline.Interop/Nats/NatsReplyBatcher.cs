namespace Beamline.Interop.Nats;

/// <summary>
/// Sends the replies of a request-reply service in batches under load and at once when idle.
/// </summary>
/// <remarks>
/// A SendAsap connection writes every reply with its own <c>send()</c>, which costs this process
/// and nats-server more than the reply itself when thousands arrive per second. Without SendAsap,
/// nats.c's flusher batches them but waits 1 ms first, which a lone request would feel. So the
/// service subscribes on a batching connection and replies through this: while more requests
/// wait for the handler, the reply stays in the buffer; when none waits, buffered replies go out
/// with a PING (flushed in place) or, when nothing is buffered, this reply goes out at once on a
/// second, SendAsap connection. The decide benchmark in docs/benchmarks.md measures the effect.
/// </remarks>
public sealed class NatsReplyBatcher
{
    // Past this the buffer has been written anyway (the PING carries it out): only the PONG is late.
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromMilliseconds(50);

    private readonly NatsConnection _batched;
    private readonly NatsConnection _immediate;

    /// <summary>Replies for handlers of subscriptions on <paramref name="batched"/> (SendAsap off).</summary>
    /// <param name="batched">The connection the service subscribes on, with SendAsap off.</param>
    /// <param name="immediate">A connection to the same servers with SendAsap on, for idle replies.</param>
    public NatsReplyBatcher(NatsConnection batched, NatsConnection immediate)
    {
        ArgumentNullException.ThrowIfNull(batched);
        ArgumentNullException.ThrowIfNull(immediate);
        _batched = batched;
        _immediate = immediate;
    }

    /// <summary>
    /// Replies to <paramref name="msg"/>, received by <paramref name="subscription"/>'s handler on
    /// the batching connection. Call it from that handler (its delivery thread).
    /// </summary>
    /// <exception cref="InvalidOperationException">The message has no reply subject.</exception>
    /// <exception cref="NatsException">The publish failed.</exception>
    public void Respond(NatsMsg msg, ReadOnlySpan<byte> data, NatsSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        if (subscription.PendingMessages > 0)
        {
            msg.Respond(data); // more requests queued: this reply leaves with a later one
        }
        else if (_batched.BufferedBytes > 0)
        {
            msg.Respond(data); // the queue ran dry: send everything buffered, this reply too
            _batched.TryFlush(FlushTimeout);
        }
        else
        {
            msg.RespondOn(_immediate, data); // idle: at once, without a PING
        }
    }
}
