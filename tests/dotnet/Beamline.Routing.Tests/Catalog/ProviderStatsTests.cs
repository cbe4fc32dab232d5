using Beamline.Routing.Catalog;

namespace Beamline.Routing.Tests.Catalog;

public sealed class ProviderStatsTests
{
    [Fact]
    public void Record_FirstSuccess_ReplacesTheBaselineThenAverages()
    {
        var stats = new ProviderStats(1000, alpha: 0.5);
        stats.Record(true, 100);
        Assert.Equal(100, stats.LatencyMs);
        stats.Record(true, 200);
        Assert.Equal(150, stats.LatencyMs);
        stats.Record(false, 10_000);
        Assert.Equal(150, stats.LatencyMs);
        Assert.Equal(0.5, stats.ErrorRate);
    }

    [Fact]
    public async Task Record_ConcurrentWriters_LoseNoCount()
    {
        var stats = new ProviderStats(100, alpha: 0.1);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                stats.Record(i % 4 != 0, 50 + t);
            }
        })));
        Assert.Equal(60_000, stats.Successes);
        Assert.Equal(20_000, stats.Failures);
        Assert.InRange(stats.LatencyMs, 50, 57);
        Assert.InRange(stats.ErrorRate, 0, 1);
    }

    [Fact]
    public void Subject_NatsProvider_FollowsTheCp1Pattern()
    {
        Assert.Equal("beamline.provider.local_llm.v2", new ProviderDescriptor { Id = "local_llm", Kind = ProviderKind.NatsProvider, SubjectVersion = 2 }.Subject);
    }
}
