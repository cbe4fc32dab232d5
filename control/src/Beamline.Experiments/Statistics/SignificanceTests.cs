using MathNet.Numerics.Distributions;

namespace Beamline.Experiments.Statistics;

/// <summary>The result of a two-sided test of "no difference" between a challenger (a) and a control (b).</summary>
/// <param name="Statistic">The test statistic (t or z); positive when a's mean or rate is higher.</param>
/// <param name="DegreesOfFreedom">Welch–Satterthwaite degrees of freedom for a t test; infinity for a z test.</param>
/// <param name="PValue">The two-sided p-value; 1 when the samples are too small to test.</param>
public readonly record struct TestResult(double Statistic, double DegreesOfFreedom, double PValue)
{
    /// <summary>The answer for samples that cannot be tested (too small, no variance).</summary>
    public static TestResult Untestable { get; } = new(0, double.NaN, 1);
}

/// <summary>
/// The two tests experiments use: Welch's unequal-variance t test for means (latency, cost,
/// quality) and the pooled two-proportion z test for rates (error rate). Both are two-sided.
/// Distributions come from Math.NET Numerics.
/// </summary>
public static class SignificanceTests
{
    /// <summary>
    /// Welch's t test: t = (x̄a − x̄b) / √(sa²/na + sb²/nb), with Welch–Satterthwaite degrees of
    /// freedom, p = 2·(1 − T_df(|t|)). Untestable (p = 1) when either sample has fewer than two
    /// observations; with zero variance in both, p is 0 for different means and 1 for equal ones.
    /// </summary>
    public static TestResult Welch(SampleStatistics a, SampleStatistics b)
    {
        if (a.Count < 2 || b.Count < 2)
        {
            return TestResult.Untestable;
        }
        var va = a.Variance / a.Count;
        var vb = b.Variance / b.Count;
        var standardError = Math.Sqrt(va + vb);
        if (standardError == 0)
        {
            return a.Mean == b.Mean ? TestResult.Untestable : new TestResult(Math.Sign(a.Mean - b.Mean) * double.PositiveInfinity, double.PositiveInfinity, 0);
        }
        var t = (a.Mean - b.Mean) / standardError;
        var df = (va + vb) * (va + vb) / ((va * va / (a.Count - 1)) + (vb * vb / (b.Count - 1)));
        var p = 2 * StudentT.CDF(0, 1, df, -Math.Abs(t));
        return new TestResult(t, df, Math.Clamp(p, 0, 1));
    }

    /// <summary>
    /// The pooled two-proportion z test: p̂ = (xa + xb)/(na + nb), z = (xa/na − xb/nb) / √(p̂(1 − p̂)(1/na + 1/nb)),
    /// p = 2·(1 − Φ(|z|)). Untestable (p = 1) when a sample is empty or the pooled rate is 0 or 1.
    /// </summary>
    public static TestResult TwoProportion(long successesA, long countA, long successesB, long countB)
    {
        if (countA <= 0 || countB <= 0)
        {
            return TestResult.Untestable;
        }
        var pooled = (double)(successesA + successesB) / (countA + countB);
        var standardError = Math.Sqrt(pooled * (1 - pooled) * ((1.0 / countA) + (1.0 / countB)));
        if (standardError == 0)
        {
            return TestResult.Untestable;
        }
        var z = (((double)successesA / countA) - ((double)successesB / countB)) / standardError;
        var p = 2 * Normal.CDF(0, 1, -Math.Abs(z));
        return new TestResult(z, double.PositiveInfinity, Math.Clamp(p, 0, 1));
    }
}
