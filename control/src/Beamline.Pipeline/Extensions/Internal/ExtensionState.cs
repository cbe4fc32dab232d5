using Beamline.Policies;
using Beamline.Routing.Breakers;

namespace Beamline.Pipeline.Extensions.Internal;

/// <summary>
/// What the runner keeps per extension id: its breaker, call counters and a ring of recent
/// latencies. The hot path is interlocked increments and one array store; <see cref="Snapshot"/>
/// (the health view) does the sorting.
/// </summary>
internal sealed class ExtensionState
{
    /// <summary>The size of the latency window (a power of two).</summary>
    public const int Window = 1024;

    private readonly double[] _latencies = new double[Window];
    private readonly TimeProvider _time;
    private long _written;
    private long _calls;
    private long _failures;
    private long _timeouts;
    private LastFailure? _lastError;

    public ExtensionState(CircuitBreakerSettings breaker, TimeProvider time)
    {
        _time = time;
        Breaker = new CircuitBreaker(breaker, time);
    }

    /// <summary>The extension's breaker: consecutive failures open it, a half-open trial closes it.</summary>
    public CircuitBreaker Breaker { get; }

    /// <summary>Records one finished attempt (the breaker included).</summary>
    public void Record(ExtensionReply reply, double latencyMs)
    {
        Interlocked.Increment(ref _calls);
        var slot = Interlocked.Increment(ref _written) - 1;
        _latencies[slot & (Window - 1)] = latencyMs;
        if (reply.Failure == ExtensionFailure.None)
        {
            Breaker.OnSuccess();
            return;
        }
        Interlocked.Increment(ref _failures);
        if (reply.Failure == ExtensionFailure.Timeout)
        {
            Interlocked.Increment(ref _timeouts);
        }
        Volatile.Write(ref _lastError, new LastFailure(reply.Message ?? reply.Failure.ToString(), _time.GetUtcNow()));
        Breaker.OnFailure();
    }

    /// <summary>The counters and latency percentiles now.</summary>
    public (long Calls, long Failures, long Timeouts, double? P50, double? P99, string Breaker, string? LastError, DateTimeOffset? LastErrorAt) Snapshot()
    {
        var written = Interlocked.Read(ref _written);
        var count = (int)Math.Min(written, Window);
        double? p50 = null, p99 = null;
        if (count > 0)
        {
            var sorted = new double[count];
            Array.Copy(_latencies, sorted, count);
            Array.Sort(sorted);
            p50 = NearestRank(sorted, 0.50);
            p99 = NearestRank(sorted, 0.99);
        }
        var last = Volatile.Read(ref _lastError);
        var breaker = Breaker.State switch
        {
            CircuitState.Open => "open",
            CircuitState.HalfOpen => "half_open",
            _ => "closed",
        };
        return (Interlocked.Read(ref _calls), Interlocked.Read(ref _failures), Interlocked.Read(ref _timeouts), p50, p99, breaker,
            last?.Message, last?.At);
    }

    private static double NearestRank(double[] sorted, double percentile) =>
        sorted[Math.Clamp((int)Math.Ceiling(percentile * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed record LastFailure(string Message, DateTimeOffset At);
}
