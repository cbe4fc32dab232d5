using Beamline.Experiments.Statistics;

namespace Beamline.Experiments.Tests.Statistics;

public sealed class AlphaSpendingTests
{
    [Theory]
    // O'Brien–Fleming-type Lan–DeMets spending for α = 0.05 (two-sided): α(t) = 2 − 2Φ(1.959964/√t).
    [InlineData(0.25, 0.0000886)]
    [InlineData(0.5, 0.0055746)]
    [InlineData(0.75, 0.0236251)]
    [InlineData(1.0, 0.05)]
    public void Spent_MatchesTheSpendingFunction(double fraction, double expected)
        => Assert.Equal(expected, AlphaSpending.Spent(0.05, fraction), 6);

    [Fact]
    public void Thresholds_OverAllLooks_AddUpToAlpha()
    {
        for (var looks = 1; looks <= 10; looks++)
        {
            var total = 0.0;
            for (var look = 1; look <= looks; look++)
            {
                total += AlphaSpending.Threshold(0.05, look, looks, comparisons: 1);
            }
            Assert.Equal(0.05, total, 12);
        }
    }

    [Fact]
    public void Thresholds_GrowLookByLook_AndSplitAcrossComparisons()
    {
        var previous = 0.0;
        for (var look = 1; look <= 5; look++)
        {
            var threshold = AlphaSpending.Threshold(0.05, look, 5, 1);
            Assert.True(threshold > previous);
            Assert.Equal(threshold / 3, AlphaSpending.Threshold(0.05, look, 5, 3), 15);
            previous = threshold;
        }
    }

    [Fact]
    public void BadArguments_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AlphaSpending.Spent(0, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlphaSpending.Threshold(0.05, 6, 5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlphaSpending.Threshold(0.05, 1, 5, 0));
    }
}
