namespace Beamline.Experiments.Statistics;

/// <summary>
/// Count, mean and variance of a stream of observations, kept with Welford's update (stable
/// where a sum of squares would lose precision). Not thread-safe: its owner locks.
/// </summary>
public sealed class RunningSummary
{
    private double _m2;

    /// <summary>An empty summary.</summary>
    public RunningSummary()
    {
    }

    /// <summary>A summary restored from <see cref="State"/>.</summary>
    public RunningSummary(SummaryState state)
    {
        Count = state.Count;
        Mean = state.Mean;
        _m2 = state.M2;
    }

    /// <summary>How many observations were added.</summary>
    public long Count { get; private set; }

    /// <summary>Their mean (0 with none).</summary>
    public double Mean { get; private set; }

    /// <summary>The sample variance (n − 1 in the denominator; 0 with fewer than two observations).</summary>
    public double Variance => Count < 2 ? 0 : _m2 / (Count - 1);

    /// <summary>Adds one observation.</summary>
    public void Add(double value)
    {
        Count++;
        var delta = value - Mean;
        Mean += delta / Count;
        _m2 += delta * (value - Mean);
    }

    /// <summary>A copy of the current figures.</summary>
    public SampleStatistics Snapshot() => new(Count, Mean, Variance);

    /// <summary>What restores this summary exactly (count, mean and the sum of squared deviations).</summary>
    public SummaryState State => new(Count, Mean, _m2);
}

/// <summary>A <see cref="RunningSummary"/>'s exact state, for saving and restoring it.</summary>
/// <param name="Count">The number of observations.</param>
/// <param name="Mean">Their mean.</param>
/// <param name="M2">The sum of squared deviations from the mean.</param>
public readonly record struct SummaryState(long Count, double Mean, double M2)
{
    /// <summary>
    /// The state of both samples together, exactly as if one summary had seen every observation
    /// (Chan, Golub and LeVeque's pairwise update): how control planes add up their figures.
    /// </summary>
    public static SummaryState Combine(SummaryState a, SummaryState b)
    {
        if (a.Count == 0)
        {
            return b;
        }
        if (b.Count == 0)
        {
            return a;
        }
        var count = a.Count + b.Count;
        var delta = b.Mean - a.Mean;
        return new(count, a.Mean + (delta * b.Count / count), a.M2 + b.M2 + (delta * delta * ((double)a.Count * b.Count / count)));
    }
}

/// <summary>A sample's size, mean and sample variance.</summary>
/// <param name="Count">The number of observations.</param>
/// <param name="Mean">Their mean.</param>
/// <param name="Variance">Their sample variance (n − 1 in the denominator).</param>
public readonly record struct SampleStatistics(long Count, double Mean, double Variance)
{
    /// <summary>The statistics of <paramref name="values"/>.</summary>
    public static SampleStatistics Of(ReadOnlySpan<double> values)
    {
        var summary = new RunningSummary();
        foreach (var value in values)
        {
            summary.Add(value);
        }
        return summary.Snapshot();
    }
}
