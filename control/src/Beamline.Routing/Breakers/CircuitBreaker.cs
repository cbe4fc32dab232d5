using Beamline.Policies;

namespace Beamline.Routing.Breakers;

/// <summary>The state of a circuit breaker.</summary>
public enum CircuitState
{
    /// <summary>Calls flow; failures are counted.</summary>
    Closed,

    /// <summary>Calls are refused until the open timeout has passed.</summary>
    Open,

    /// <summary>A limited number of trial calls are let through.</summary>
    HalfOpen,
}

/// <summary>
/// One circuit breaker. Closed → open after <c>failure_threshold</c> consecutive failures, or
/// when the error rate over the sliding <c>error_rate_window_seconds</c> reaches
/// <c>error_rate_threshold</c> with at least <c>failure_threshold</c> calls in the window. Open →
/// half-open once <c>timeout_ms</c> has passed (checked lazily on the next call). Half-open lets
/// at most <c>half_open_max_calls</c> trial calls be in flight; <c>success_threshold</c>
/// successes close it, any failure reopens it. A trial slot is freed by the call's outcome, by
/// <see cref="ReleaseTrial"/> when no call was made or none will be reported, and in any case
/// once it has been taken for <see cref="CircuitBreakerSettings.TrialTimeout"/>: a trial that is
/// never reported cannot keep the breaker half-open for good. State changes take a lock on this
/// breaker only; the closed fast path of <see cref="TryAcquire"/> reads one volatile field.
/// </summary>
public sealed class CircuitBreaker
{
    private const int Buckets = 10;

    private readonly CircuitBreakerSettings _settings;
    private readonly TimeProvider _time;
    private readonly long _openTicks;
    private readonly long _bucketTicks;
    private readonly long _trialTicks;
    private readonly Lock _gate = new();
    private readonly long[] _bucketStart = new long[Buckets];
    private readonly int[] _bucketCalls = new int[Buckets];
    private readonly int[] _bucketFailures = new int[Buckets];

    // When each half-open trial in flight was let through, oldest first (trials start in time order).
    private readonly Queue<long> _trials = new();
    private volatile CircuitState _state;
    private long _openedAt;
    private int _consecutiveFailures;
    private int _halfOpenSuccesses;

    // Told of each local open and close (shared state); null when the breaker is not shared.
    private Action<CircuitState, DateTimeOffset>? _changed;

    /// <summary>Creates a closed breaker.</summary>
    public CircuitBreaker(CircuitBreakerSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        _settings = settings;
        _time = time;
        _openTicks = ToTicks(settings.OpenTimeout, time);
        _bucketTicks = Math.Max(1, ToTicks(settings.ErrorRateWindow, time) / Buckets);
        _trialTicks = Math.Max(1, ToTicks(settings.TrialTimeout, time));
    }

    /// <summary>The state now (an open breaker whose timeout has passed reports half-open).</summary>
    public CircuitState State
    {
        get
        {
            var state = _state;
            return state == CircuitState.Open && OpenTimeoutElapsed() ? CircuitState.HalfOpen : state;
        }
    }

    /// <summary>True when a call would be let through now; takes no trial slot.</summary>
    public bool IsCallPermitted()
    {
        if (_state == CircuitState.Closed)
        {
            return true;
        }
        lock (_gate)
        {
            return _state switch
            {
                CircuitState.Closed => true,
                CircuitState.Open => OpenTimeoutElapsed(),
                _ => HasFreeTrialSlot(),
            };
        }
    }

    /// <summary>Lets a call through if the breaker allows it; in half-open this takes one trial slot.</summary>
    public bool TryAcquire()
    {
        if (_state == CircuitState.Closed)
        {
            return true;
        }
        lock (_gate)
        {
            if (_state == CircuitState.Open)
            {
                if (!OpenTimeoutElapsed())
                {
                    return false;
                }
                _state = CircuitState.HalfOpen;
                _trials.Clear();
                _halfOpenSuccesses = 0;
            }
            if (_state == CircuitState.HalfOpen)
            {
                if (!HasFreeTrialSlot())
                {
                    return false;
                }
                _trials.Enqueue(_time.GetTimestamp());
            }
            return true;
        }
    }

    /// <summary>
    /// Gives back a half-open trial slot whose call was not made or whose outcome will never be
    /// recorded (the caller went away, the decision was only handed out); counts nothing. Does
    /// nothing outside half-open.
    /// </summary>
    public void ReleaseTrial()
    {
        lock (_gate)
        {
            if (_state == CircuitState.HalfOpen)
            {
                _trials.TryDequeue(out _);
            }
        }
    }

    /// <summary>Records a successful call.</summary>
    public void OnSuccess()
    {
        lock (_gate)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    _consecutiveFailures = 0;
                    CountInWindow(failure: false);
                    break;
                case CircuitState.HalfOpen:
                    _trials.TryDequeue(out _);
                    if (++_halfOpenSuccesses >= _settings.SuccessThreshold)
                    {
                        Close();
                    }
                    break;
                default:
                    // A late answer to a call made before the breaker opened changes nothing.
                    break;
            }
        }
    }

    /// <summary>Records a failed call.</summary>
    public void OnFailure()
    {
        lock (_gate)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    _consecutiveFailures++;
                    var (calls, failures) = CountInWindow(failure: true);
                    if (_consecutiveFailures >= _settings.FailureThreshold
                        || (_settings.ErrorRateThreshold is { } rate && calls >= _settings.FailureThreshold
                            && failures >= rate * calls))
                    {
                        Open();
                    }
                    break;
                case CircuitState.HalfOpen:
                    Open();
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>
    /// Takes the state another control plane's breaker for the same scope went to: open (since
    /// <paramref name="openedAt"/>, so the open timeout ends when it ends there) or closed. Other
    /// states are ignored; nothing is published back.
    /// </summary>
    public void ApplyShared(CircuitState state, DateTimeOffset openedAt)
    {
        lock (_gate)
        {
            if (state == CircuitState.Open)
            {
                var elapsed = _time.GetUtcNow() - openedAt;
                var ticks = ToTicks(elapsed < TimeSpan.Zero ? TimeSpan.Zero : elapsed, _time);
                Volatile.Write(ref _openedAt, _time.GetTimestamp() - ticks);
                _state = CircuitState.Open;
                _trials.Clear();
                _halfOpenSuccesses = 0;
            }
            else if (state == CircuitState.Closed && _state != CircuitState.Closed)
            {
                Close(publish: false);
            }
        }
    }

    /// <summary>Has <paramref name="changed"/> told of every open and close from now on (shared state).</summary>
    internal void OnStateChanged(Action<CircuitState, DateTimeOffset> changed) => _changed = changed;

    /// <summary>Drops the trials taken longer than the trial timeout ago; true when a slot is free. Under the lock.</summary>
    private bool HasFreeTrialSlot()
    {
        var expired = _time.GetTimestamp() - _trialTicks;
        while (_trials.TryPeek(out var started) && started <= expired)
        {
            _trials.Dequeue();
        }
        return _trials.Count < _settings.HalfOpenMaxCalls;
    }

    private bool OpenTimeoutElapsed() => _time.GetTimestamp() - Volatile.Read(ref _openedAt) >= _openTicks;

    private void Open()
    {
        Volatile.Write(ref _openedAt, _time.GetTimestamp());
        _state = CircuitState.Open;
        _trials.Clear();
        _halfOpenSuccesses = 0;
        _changed?.Invoke(CircuitState.Open, _time.GetUtcNow());
    }

    private void Close(bool publish = true)
    {
        _state = CircuitState.Closed;
        _trials.Clear();
        _consecutiveFailures = 0;
        Array.Clear(_bucketCalls);
        Array.Clear(_bucketFailures);
        Array.Clear(_bucketStart);
        if (publish)
        {
            _changed?.Invoke(CircuitState.Closed, _time.GetUtcNow());
        }
    }

    /// <summary>Adds one call to the current bucket and returns the window's totals.</summary>
    private (int Calls, int Failures) CountInWindow(bool failure)
    {
        var now = _time.GetTimestamp();
        var slot = (int)((ulong)(now / _bucketTicks) % Buckets);
        var start = now - (now % _bucketTicks);
        if (_bucketStart[slot] != start)
        {
            _bucketStart[slot] = start;
            _bucketCalls[slot] = 0;
            _bucketFailures[slot] = 0;
        }
        _bucketCalls[slot]++;
        if (failure)
        {
            _bucketFailures[slot]++;
        }
        var oldest = start - (Buckets - 1) * _bucketTicks;
        int calls = 0, failures = 0;
        for (var i = 0; i < Buckets; i++)
        {
            if (_bucketStart[i] >= oldest && _bucketStart[i] <= start)
            {
                calls += _bucketCalls[i];
                failures += _bucketFailures[i];
            }
        }
        return (calls, failures);
    }

    private static long ToTicks(TimeSpan span, TimeProvider time) => (long)(span.TotalSeconds * time.TimestampFrequency);
}
