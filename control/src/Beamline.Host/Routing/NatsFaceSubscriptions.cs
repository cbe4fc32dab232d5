using NATS.Client.Core;

namespace Beamline.Host.Routing;

/// <summary>
/// The lifecycle the NATS faces share (CP1's <see cref="NatsDecideService"/>, CP2's
/// <see cref="NatsCp2Service"/>): one loop per subscribed subject; at start a short wait for NATS
/// (then the face goes on degraded and subscribes when NATS comes); on stop every subscription is
/// drained (UNSUB, then a PING/PONG fence, so that what the server already sent still arrives and
/// is answered), the loops get until the deadline, and work still in flight gets until shortly
/// before it (<see cref="StopInFlightAsync"/>).
/// </summary>
internal sealed class NatsFaceSubscriptions
{
    /// <summary>How long start waits for NATS before the face goes on degraded.</summary>
    public static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(5);

    private readonly List<INatsSub<NatsMemoryOwner<byte>>> _subscriptions = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _closed = new();
    private Task? _subscribing;

    /// <summary>Cancelled when stopping begins: what still subscribes (a start waiting for NATS) gives up.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>
    /// Runs <paramref name="subscribeAll"/>: true once it has finished within <see cref="StartupWait"/>
    /// (a failure to subscribe surfaces here), false while NATS is not there yet (it goes on in the background).
    /// </summary>
    public async Task<bool> StartAsync(Func<Task> subscribeAll, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscribeAll);
        _subscribing = subscribeAll();
        var started = await Task.WhenAny(_subscribing, Task.Delay(StartupWait, cancellationToken)).ConfigureAwait(false);
        if (started != _subscribing)
        {
            return false;
        }
        await _subscribing.ConfigureAwait(false);
        return true;
    }

    /// <summary>Subscribes <paramref name="subject"/> and runs <paramref name="serve"/> over it until it is drained.</summary>
    public async Task SubscribeAsync(INatsConnection connection, string subject, string? queueGroup, Func<INatsSub<NatsMemoryOwner<byte>>, Task> serve)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(serve);
        // No token here: NATS.Net ends a subscription when the token given at subscribe time is
        // cancelled, and that would drop what the server already sent instead of draining it.
        var subscription = await connection.SubscribeCoreAsync<NatsMemoryOwner<byte>>(subject, queueGroup).ConfigureAwait(false);
        if (_closed.IsCancellationRequested)
        {
            await subscription.UnsubscribeAsync().ConfigureAwait(false); // subscribed as the face stopped
            return;
        }
        lock (_subscriptions)
        {
            _subscriptions.Add(subscription);
            _loops.Add(Task.Run(() => serve(subscription)));
        }
    }

    /// <summary>
    /// Stops taking work: drains every subscription (while NATS is down nothing more can arrive, so
    /// they are only unsubscribed), then waits for the loops to answer what was delivered, at most
    /// until <paramref name="deadline"/>. <paramref name="failed"/> hears of a subscription that could not be drained.
    /// </summary>
    public async Task DrainAsync(INatsConnection connection, DateTime deadline, Action<string, string> failed)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(failed);
        await _closed.CancelAsync().ConfigureAwait(false);
        if (_subscribing is { IsCompleted: false } subscribing && connection.ConnectionState == NatsConnectionState.Open)
        {
            await Task.WhenAny(subscribing, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
        }
        INatsSub<NatsMemoryOwner<byte>>[] subscriptions;
        Task[] loops;
        lock (_subscriptions)
        {
            subscriptions = [.. _subscriptions];
            loops = [.. _loops];
        }
        using var fence = new CancellationTokenSource(Left(deadline));
        var connected = connection.ConnectionState == NatsConnectionState.Open;
        await Task.WhenAll(subscriptions.Select(async subscription =>
        {
            try
            {
                if (connected)
                {
                    await subscription.DrainAsync(fence.Token).ConfigureAwait(false);
                }
                else
                {
                    await subscription.UnsubscribeAsync().ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is NatsException or ObjectDisposedException or OperationCanceledException)
            {
                failed(subscription.Subject, e.Message);
            }
        })).ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(Left(deadline), CancellationToken.None)).ConfigureAwait(false);
    }

    /// <summary>
    /// After the drain: work already taken (<paramref name="inFlight"/> &gt; 0) runs until shortly before
    /// <paramref name="deadline"/> (a quarter of <paramref name="shutdownTimeout"/>, at most a second),
    /// then <paramref name="stopping"/> is cancelled and it gets until the deadline to answer.
    /// </summary>
    public static async Task StopInFlightAsync(Func<int> inFlight, CancellationTokenSource stopping, DateTime deadline, TimeSpan shutdownTimeout)
    {
        ArgumentNullException.ThrowIfNull(inFlight);
        ArgumentNullException.ThrowIfNull(stopping);
        var grace = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, shutdownTimeout.Ticks / 4));
        while (inFlight() > 0 && DateTime.UtcNow < deadline - grace)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
        await stopping.CancelAsync().ConfigureAwait(false);
        while (inFlight() > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>A round trip to the server, so that the replies published last are flushed before the connection goes (bounded to a second).</summary>
    public static async Task FlushAsync(INatsConnection connection, Action<string, string> failed)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(failed);
        if (connection.ConnectionState != NatsConnectionState.Open)
        {
            return;
        }
        try
        {
            await connection.PingAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
        {
            failed("(final flush)", e.Message);
        }
    }

    private static TimeSpan Left(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
