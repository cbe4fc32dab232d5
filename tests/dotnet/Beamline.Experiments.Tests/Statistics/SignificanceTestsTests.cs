using Beamline.Experiments.Statistics;

namespace Beamline.Experiments.Tests.Statistics;

public sealed class SignificanceTestsTests
{
    [Fact]
    public void Welch_MatchesThePublishedExample()
    {
        // Welch's t test, example 1 of the Wikipedia article (equal sizes, unequal variances): t = −2.46, p = 0.021;
        // ν by the Welch–Satterthwaite formula from the same data is 24.99 (the article rounds it to 24.9).
        double[] a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
        double[] a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];

        var result = SignificanceTests.Welch(SampleStatistics.Of(a1), SampleStatistics.Of(a2));

        Assert.Equal(-2.46, result.Statistic, 2);
        Assert.Equal(24.99, result.DegreesOfFreedom, 2);
        Assert.Equal(0.021, result.PValue, 3);
    }

    [Fact]
    public void Welch_AtTheTabulatedCriticalValue_GivesFivePercent()
    {
        // Equal samples of 6 with variance 1 give t = Δ/√(1/3) and ν = 10; t₀.₉₇₅,₁₀ = 2.228 (the t table).
        var delta = 2.228138852 * Math.Sqrt(1.0 / 3);
        var result = SignificanceTests.Welch(new SampleStatistics(6, delta, 1), new SampleStatistics(6, 0, 1));

        Assert.Equal(10, result.DegreesOfFreedom, 9);
        Assert.Equal(0.05, result.PValue, 6);
    }

    [Fact]
    public void Welch_TooSmallOrConstantSamples_AreUntestableOrCertain()
    {
        Assert.Equal(1, SignificanceTests.Welch(new SampleStatistics(1, 5, 0), new SampleStatistics(10, 0, 1)).PValue);
        Assert.Equal(1, SignificanceTests.Welch(new SampleStatistics(10, 3, 0), new SampleStatistics(10, 3, 0)).PValue);
        Assert.Equal(0, SignificanceTests.Welch(new SampleStatistics(10, 3, 0), new SampleStatistics(10, 2, 0)).PValue);
    }

    [Fact]
    public void TwoProportion_MatchesAHandComputation()
    {
        // 45/100 against 30/100: pooled 0.375, SE = √(0.375·0.625·0.02) = 0.068465, z = 2.1909, p = 2(1 − Φ(2.1909)) = 0.02846.
        var result = SignificanceTests.TwoProportion(45, 100, 30, 100);

        Assert.Equal(2.1909, result.Statistic, 4);
        Assert.Equal(0.02846, result.PValue, 5);
        Assert.True(double.IsPositiveInfinity(result.DegreesOfFreedom));
    }

    [Fact]
    public void TwoProportion_WithNothingToTest_IsUntestable()
    {
        var result = SignificanceTests.TwoProportion(0, 10, 0, 10);
        Assert.Equal(1, result.PValue); // pooled rate 0: nothing to test
        Assert.Equal(1, SignificanceTests.TwoProportion(3, 0, 1, 10).PValue);
        Assert.Equal(1, SignificanceTests.TwoProportion(50, 100, 50, 100).PValue, 12);
    }

    [Fact]
    public void RunningSummary_AgreesWithTheTwoPassFormula()
    {
        var random = new Random(3);
        var values = new double[1000];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = 1e6 + random.NextDouble(); // a large offset: a naive sum of squares would lose the variance
        }
        var mean = values.Average();
        var variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1);

        var summary = SampleStatistics.Of(values);

        Assert.Equal(1000, summary.Count);
        Assert.Equal(mean, summary.Mean, 6);
        Assert.Equal(variance, summary.Variance, 9);
    }
}
