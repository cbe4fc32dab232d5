namespace Beamline.Routing.Catalog;

/// <summary>
/// Live statistics of one provider, updated from every result without locks: exponentially
/// weighted moving averages (EWMA) of latency and error rate, and totals. Every field is
/// updated by a compare-and-swap loop, so concurrent writers never lose an update.
/// </summary>
public sealed class ProviderStats
{
    private readonly double _alpha;
    private double _latencyMs;
    private double _errorRate;
    private long _successes;
    private long _failures;

    /// <summary>Creates stats that start at <paramref name="baselineLatencyMs"/> and no errors.</summary>
    /// <param name="baselineLatencyMs">The latency assumed before the first observation.</param>
    /// <param name="alpha">The EWMA weight of a new observation, in (0, 1].</param>
    public ProviderStats(double baselineLatencyMs, double alpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alpha);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(alpha, 1.0);
        _alpha = alpha;
        _latencyMs = baselineLatencyMs;
    }

    /// <summary>The EWMA of observed latencies, in ms (the baseline until the first success).</summary>
    public double LatencyMs => Volatile.Read(ref _latencyMs);

    /// <summary>The EWMA of failures (1) and successes (0): an error rate in [0, 1].</summary>
    public double ErrorRate => Volatile.Read(ref _errorRate);

    /// <summary>Successful calls recorded.</summary>
    public long Successes => Interlocked.Read(ref _successes);

    /// <summary>Failed calls recorded.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Records one result. Latency is folded in for successes only, so timeouts do not skew it.</summary>
    public void Record(bool success, double latencyMs)
    {
        if (success)
        {
            Interlocked.Increment(ref _successes);
            if (latencyMs >= 0 && double.IsFinite(latencyMs))
            {
                Fold(ref _latencyMs, latencyMs, Successes == 1 ? 1.0 : _alpha);
            }
        }
        else
        {
            Interlocked.Increment(ref _failures);
        }
        Fold(ref _errorRate, success ? 0.0 : 1.0, _alpha);
    }

    private static void Fold(ref double location, double sample, double alpha)
    {
        var current = Volatile.Read(ref location);
        while (true)
        {
            var next = current + alpha * (sample - current);
            var seen = Interlocked.CompareExchange(ref location, next, current);
            if (seen.Equals(current))
            {
                return;
            }
            current = seen;
        }
    }
}
