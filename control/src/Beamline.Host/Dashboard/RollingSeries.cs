namespace Beamline.Host.Dashboard;

/// <summary>What a <see cref="RollingSeries"/> shows at one moment.</summary>
/// <param name="Total">Measurements since the start.</param>
/// <param name="Errors">Of them, those that did not end <c>ok</c>.</param>
/// <param name="PerSecond">The count of each of the last <see cref="RollingSeries.Seconds"/> whole seconds, oldest first.</param>
/// <param name="P50Ms">The median over the window (null when it holds none).</param>
/// <param name="P99Ms">The 99th percentile over the window (null when it holds none).</param>
/// <param name="WindowCount">The measurements the percentiles were taken over.</param>
internal sealed record RollingSnapshot(long Total, long Errors, long[] PerSecond, double? P50Ms, double? P99Ms, int WindowCount);

/// <summary>
/// A rolling summary of one stream of timed events (requests, blocks of a pool): counts per second
/// over the last minute and the latency percentiles of the last minute's measurements (at most the
/// last <see cref="MaxSamples"/>). Cheap to record into from any thread; read a few times a second.
/// </summary>
internal sealed class RollingSeries
{
    /// <summary>The window, in seconds.</summary>
    public const int Seconds = 60;

    /// <summary>The latencies kept for the percentiles.</summary>
    public const int MaxSamples = 2048;

    private readonly long[] _bucketSecond = new long[Seconds];
    private readonly long[] _bucketCount = new long[Seconds];
    private readonly long[] _sampleSecond = new long[MaxSamples];
    private readonly double[] _sampleMs = new double[MaxSamples];
    private readonly Lock _lock = new();
    private int _next;
    private int _samples;
    private long _total;
    private long _errors;

    /// <summary>One measurement at <paramref name="second"/> (seconds since some fixed origin).</summary>
    public void Record(long second, double latencyMs, bool error)
    {
        lock (_lock)
        {
            _total++;
            if (error)
            {
                _errors++;
            }
            var slot = (int)(second % Seconds);
            if (_bucketSecond[slot] != second)
            {
                _bucketSecond[slot] = second;
                _bucketCount[slot] = 0;
            }
            _bucketCount[slot]++;
            _sampleSecond[_next] = second;
            _sampleMs[_next] = latencyMs;
            _next = (_next + 1) % MaxSamples;
            _samples = Math.Min(_samples + 1, MaxSamples);
        }
    }

    /// <summary>The summary as of <paramref name="second"/>: the current second is not yet whole and is left out.</summary>
    public RollingSnapshot Snapshot(long second)
    {
        var perSecond = new long[Seconds];
        var window = new List<double>(Math.Min(_samples, 256));
        long total;
        long errors;
        lock (_lock)
        {
            total = _total;
            errors = _errors;
            for (var i = 0; i < Seconds; i++)
            {
                var wanted = second - Seconds + i;
                var slot = (int)(((wanted % Seconds) + Seconds) % Seconds);
                perSecond[i] = _bucketSecond[slot] == wanted ? _bucketCount[slot] : 0;
            }
            for (var i = 0; i < _samples; i++)
            {
                if (_sampleSecond[i] > second - Seconds)
                {
                    window.Add(_sampleMs[i]);
                }
            }
        }
        window.Sort();
        return new RollingSnapshot(total, errors, perSecond, Percentile(window, 0.50), Percentile(window, 0.99), window.Count);
    }

    // Nearest rank: the smallest value with at least that share of the window at or below it.
    private static double? Percentile(List<double> sorted, double share)
    {
        if (sorted.Count == 0)
        {
            return null;
        }
        var rank = (int)Math.Ceiling(share * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
