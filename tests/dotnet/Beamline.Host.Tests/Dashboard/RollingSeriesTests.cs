using Beamline.Host.Dashboard;

namespace Beamline.Host.Tests.Dashboard;

public sealed class RollingSeriesTests
{
    [Fact]
    public void Snapshot_Empty_HasNoPercentiles()
    {
        var snapshot = new RollingSeries().Snapshot(100);

        Assert.Equal(0, snapshot.Total);
        Assert.Null(snapshot.P50Ms);
        Assert.Null(snapshot.P99Ms);
        Assert.Equal(RollingSeries.Seconds, snapshot.PerSecond.Length);
        Assert.All(snapshot.PerSecond, count => Assert.Equal(0, count));
    }

    [Fact]
    public void Snapshot_CountsEachWholeSecondOldestFirst_AndLeavesTheCurrentOneOut()
    {
        var series = new RollingSeries();
        series.Record(98, 1, error: false);
        series.Record(99, 1, error: false);
        series.Record(99, 1, error: true);
        series.Record(100, 1, error: false); // the second still running

        var snapshot = series.Snapshot(100);

        Assert.Equal(4, snapshot.Total);
        Assert.Equal(1, snapshot.Errors);
        Assert.Equal(2, snapshot.PerSecond[^1]);
        Assert.Equal(1, snapshot.PerSecond[^2]);
        Assert.Equal(3, snapshot.PerSecond.Sum());
    }

    [Fact]
    public void Snapshot_TakesNearestRankPercentilesOverTheLastMinuteOnly()
    {
        var series = new RollingSeries();
        series.Record(10, 5000, error: false); // more than a minute before: out of the window
        for (var ms = 1; ms <= 100; ms++)
        {
            series.Record(100, ms, error: false);
        }

        var snapshot = series.Snapshot(101);

        Assert.Equal(100, snapshot.WindowCount);
        Assert.Equal(50, snapshot.P50Ms);
        Assert.Equal(99, snapshot.P99Ms);
        Assert.Equal(101, snapshot.Total);
    }

    [Fact]
    public void Record_ABucketComesRoundAgain_StartsItFromZero()
    {
        var series = new RollingSeries();
        series.Record(5, 1, error: false);
        series.Record(5 + RollingSeries.Seconds, 1, error: false); // the same slot, a minute later

        var snapshot = series.Snapshot(6 + RollingSeries.Seconds);

        Assert.Equal(1, snapshot.PerSecond[^1]);
        Assert.Equal(1, snapshot.PerSecond.Sum());
    }

    [Fact]
    public void Record_PastTheSampleLimit_KeepsTheLatest()
    {
        var series = new RollingSeries();
        for (var i = 0; i < RollingSeries.MaxSamples; i++)
        {
            series.Record(50, 1, error: false);
        }
        for (var i = 0; i < RollingSeries.MaxSamples; i++)
        {
            series.Record(51, 9, error: false);
        }

        var snapshot = series.Snapshot(52);

        Assert.Equal(RollingSeries.MaxSamples, snapshot.WindowCount);
        Assert.Equal(9, snapshot.P50Ms);
        Assert.Equal(2L * RollingSeries.MaxSamples, snapshot.Total);
    }
}
