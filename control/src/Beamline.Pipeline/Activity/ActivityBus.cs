using System.Threading.Channels;

namespace Beamline.Pipeline.Activity;

/// <summary>
/// The in-process activity bus: stages publish, readers (SSE streams, the NATS publisher)
/// subscribe. <see cref="Publish"/> never blocks and never throws: it stamps the event with the
/// next <see cref="ActivityEvent.Sequence"/> (and a <see cref="ActivityEvent.Time"/> when the
/// emitter left none), keeps it in a small ring of recent events and offers it to every
/// subscriber's own bounded buffer.
/// </summary>
/// <remarks>
/// <para>
/// A full buffer drops its <em>oldest</em> event (<see cref="BoundedChannelFullMode.DropOldest"/>):
/// a reader that falls behind loses the past, not the present, so a live view catches up to now
/// as soon as it reads again. Drops are counted per subscription
/// (<see cref="ActivitySubscription.Dropped"/>) and in total (<see cref="Dropped"/>). A slow
/// reader therefore costs a request nothing but a non-blocking write.
/// </para>
/// <para>
/// Stamping, the ring and the fan-out happen under one short lock that covers only non-blocking
/// work (channel writes never wait), so every subscriber sees sequence numbers strictly
/// increasing, and a new subscriber's history joins its live events with no gap and no repeat.
/// </para>
/// </remarks>
public sealed class ActivityBus : IActivitySink
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly ActivityEvent?[] _history;
    private int _historyNext;
    private int _historyCount;
    private ActivitySubscription[] _subscribers = [];
    private long _sequence;
    private long _dropped;

    /// <summary>
    /// Creates a bus with <paramref name="options"/>' buffer capacity and history size (defaults
    /// when null), stamping times from <paramref name="timeProvider"/> (the system clock when null).
    /// </summary>
    public ActivityBus(ActivityOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new ActivityOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.HistorySize, nameof(options));
        _capacity = options.BufferCapacity;
        _history = new ActivityEvent?[options.HistorySize];
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>True while at least one subscription is open.</summary>
    public bool IsEnabled => Volatile.Read(ref _subscribers).Length > 0;

    /// <summary>The subscriptions open now.</summary>
    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>Events dropped because a subscriber's buffer was full, over all subscriptions ever.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The sequence number of the latest event (0 before the first).</summary>
    public long LastSequence => Interlocked.Read(ref _sequence);

    /// <summary>The capacity a subscription gets when it asks for none.</summary>
    public int DefaultCapacity => _capacity;

    /// <summary>How many recent events the bus keeps for <c>history</c>.</summary>
    public int HistorySize => _history.Length;

    /// <inheritdoc />
    public void Publish(ActivityEvent activity)
    {
        if (activity is null || (_history.Length == 0 && Volatile.Read(ref _subscribers).Length == 0))
        {
            return; // nobody listens and nothing is kept
        }
        var time = activity.Time == default ? _time.GetUtcNow() : activity.Time;
        lock (_lock)
        {
            var stamped = activity with { Sequence = ++_sequence, Time = time };
            if (_history.Length > 0)
            {
                _history[_historyNext] = stamped;
                _historyNext = (_historyNext + 1) % _history.Length;
                _historyCount = Math.Min(_historyCount + 1, _history.Length);
            }
            foreach (var subscriber in _subscribers)
            {
                subscriber.Offer(stamped);
            }
        }
    }

    /// <summary>
    /// Opens a subscription to every event of <paramref name="tenantId"/> (every tenant when null),
    /// buffered up to <paramref name="capacity"/> events (<see cref="DefaultCapacity"/> when null).
    /// Its reader first gets up to <paramref name="history"/> of the latest kept events of that
    /// tenant (at most the capacity), then every event published after. Dispose it to leave.
    /// </summary>
    public ActivitySubscription Subscribe(string? tenantId = null, int? capacity = null, int history = 0)
    {
        var size = capacity ?? _capacity;
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1, nameof(capacity));
        ArgumentOutOfRangeException.ThrowIfNegative(history);
        var subscription = new ActivitySubscription(this, string.IsNullOrEmpty(tenantId) ? null : tenantId, size);
        lock (_lock)
        {
            foreach (var activity in RecentLocked(Math.Min(history, size), subscription.TenantId))
            {
                subscription.Offer(activity);
            }
            _subscribers = [.. _subscribers, subscription];
        }
        return subscription;
    }

    /// <summary>
    /// Up to <paramref name="count"/> of the latest kept events of <paramref name="tenantId"/>
    /// (every tenant when null), oldest first.
    /// </summary>
    public IReadOnlyList<ActivityEvent> Recent(int count, string? tenantId = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_lock)
        {
            return RecentLocked(count, string.IsNullOrEmpty(tenantId) ? null : tenantId);
        }
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void Remove(ActivitySubscription subscription)
    {
        lock (_lock)
        {
            var index = Array.IndexOf(_subscribers, subscription);
            if (index < 0)
            {
                return;
            }
            var next = new ActivitySubscription[_subscribers.Length - 1];
            Array.Copy(_subscribers, 0, next, 0, index);
            Array.Copy(_subscribers, index + 1, next, index, next.Length - index);
            _subscribers = next;
        }
    }

    private List<ActivityEvent> RecentLocked(int count, string? tenantId)
    {
        var found = new List<ActivityEvent>(Math.Min(count, _historyCount));
        // Newest to oldest, then reversed: the ring ends just before _historyNext.
        for (var i = 1; i <= _historyCount && found.Count < count; i++)
        {
            var activity = _history[(_historyNext - i + _history.Length) % _history.Length]!;
            if (tenantId is null || string.Equals(activity.TenantId, tenantId, StringComparison.Ordinal))
            {
                found.Add(activity);
            }
        }
        found.Reverse();
        return found;
    }
}

/// <summary>
/// One reader's view of an <see cref="ActivityBus"/>: its own bounded buffer, optionally of one
/// tenant's events only. Dispose it to leave the bus (its reader then completes).
/// </summary>
public sealed class ActivitySubscription : IDisposable, IAsyncDisposable
{
    private readonly ActivityBus _bus;
    private readonly Channel<ActivityEvent> _channel;
    private long _dropped;
    private int _disposed;

    internal ActivitySubscription(ActivityBus bus, string? tenantId, int capacity)
    {
        _bus = bus;
        TenantId = tenantId;
        Capacity = capacity;
        _channel = Channel.CreateBounded<ActivityEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = false,
            SingleWriter = true, // the bus writes under its lock
            AllowSynchronousContinuations = false, // a reader's continuation never runs on a publisher's thread
        }, OnDropped);
    }

    /// <summary>The tenant whose events this subscription gets; null for every tenant.</summary>
    public string? TenantId { get; }

    /// <summary>How many events may wait in its buffer.</summary>
    public int Capacity { get; }

    /// <summary>The events, in sequence order; completes once the subscription is disposed.</summary>
    public ChannelReader<ActivityEvent> Reader => _channel.Reader;

    /// <summary>Events this subscription lost because its buffer was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    // Called under the bus's lock; never waits.
    internal void Offer(ActivityEvent activity)
    {
        if (TenantId is null || string.Equals(activity.TenantId, TenantId, StringComparison.Ordinal))
        {
            _channel.Writer.TryWrite(activity);
        }
    }

    private void OnDropped(ActivityEvent activity)
    {
        Interlocked.Increment(ref _dropped);
        _bus.CountDropped();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _bus.Remove(this);
            _channel.Writer.TryComplete();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
