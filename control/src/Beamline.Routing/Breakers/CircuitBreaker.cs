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
/// successes close it, any failure reopens it. State changes take a lock on this breaker only;
/// the closed fast path of <see cref="TryAcquire"/> reads one volatile field.
/// </summary>
public sealed class CircuitBreaker
{
    private const int Buckets = 10;

    private readonly CircuitBreakerSettings _settings;
    private readonly TimeProvider _time;
    private readonly long _openTicks;
    private readonly long _bucketTicks;
    private readonly Lock _gate = new();
    private readonly long[] _bucketStart = new long[Buckets];
    private readonly int[] _bucketCalls = new int[Buckets];
    private readonly int[] _bucketFailures = new int[Buckets];
    private volatile CircuitState _state;
    private long _openedAt;
    private int _consecutiveFailures;
    private int _halfOpenInFlight;
    private int _halfOpenSuccesses;

    /// <summary>Creates a closed breaker.</summary>
    public CircuitBreaker(CircuitBreakerSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        _settings = settings;
        _time = time;
        _openTicks = ToTicks(settings.OpenTimeout, time);
        _bucketTicks = Math.Max(1, ToTicks(settings.ErrorRateWindow, time) / Buckets);
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

    /// <summary>True when a call would be let through now; changes nothing.</summary>
    public bool IsCallPermitted() => _state switch
    {
        CircuitState.Closed => true,
        CircuitState.Open => OpenTimeoutElapsed(),
        _ => Volatile.Read(ref _halfOpenInFlight) < _settings.HalfOpenMaxCalls,
    };

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
                _halfOpenInFlight = 0;
                _halfOpenSuccesses = 0;
            }
            if (_state == CircuitState.HalfOpen)
            {
                if (_halfOpenInFlight >= _settings.HalfOpenMaxCalls)
                {
                    return false;
                }
                _halfOpenInFlight++;
            }
            return true;
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
                    _halfOpenInFlight = Math.Max(0, _halfOpenInFlight - 1);
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

    private bool OpenTimeoutElapsed() => _time.GetTimestamp() - Volatile.Read(ref _openedAt) >= _openTicks;

    private void Open()
    {
        Volatile.Write(ref _openedAt, _time.GetTimestamp());
        _state = CircuitState.Open;
        _halfOpenInFlight = 0;
        _halfOpenSuccesses = 0;
    }

    private void Close()
    {
        _state = CircuitState.Closed;
        _consecutiveFailures = 0;
        Array.Clear(_bucketCalls);
        Array.Clear(_bucketFailures);
        Array.Clear(_bucketStart);
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
