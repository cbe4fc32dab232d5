using Xunit.Abstractions;
using Beamline.Experiments.Bandits;
using Beamline.Routing;
using Beamline.Routing.Bandits;
using Beamline.Testing;

namespace Beamline.Experiments.Tests.Bandits;

public sealed class BanditSelectorTests(ITestOutputHelper output)
{
    [Fact]
    public void Thompson_RegretOverTenThousandPulls_StaysUnderTheBound()
    {
        // The stated bound: cumulative pseudo-regret ≤ c·√(K·T·ln T) with c = 1, for K = 3 Bernoulli
        // arms and T = 10,000 (≈ 525.6), exploration floor included; over several seeds.
        const int T = 10_000;
        double[] means = [0.5, 0.6, 0.7];
        var bound = Math.Sqrt(means.Length * T * Math.Log(T));
        for (var seed = 1; seed <= 5; seed++)
        {
            var selector = new BanditSelector(random: new RandomSource(seed));
            var (regret, picks) = BanditSimulation.Run(selector, BanditSimulation.Site(BanditAlgorithm.Thompson), means, T, seed);
            output.WriteLine($"Thompson seed {seed}: regret {regret:F1} (bound {bound:F1}), picks {string.Join("/", picks)}");
            Assert.True(regret < bound, $"seed {seed}: regret {regret:F1} ≥ bound {bound:F1}");
            Assert.True(picks[2] > T * 0.8, $"seed {seed}: the best arm got {picks[2]} of {T} picks");
        }
    }

    [Fact]
    public void Thompson_BeatsUniformByFar()
    {
        const int T = 10_000;
        double[] means = [0.5, 0.6, 0.7];
        var thompson = BanditSimulation.Run(new BanditSelector(random: new RandomSource(9)), BanditSimulation.Site(BanditAlgorithm.Thompson), means, T, 9).Regret;
        var uniform = T * (0.7 - means.Average()); // a uniform pick's expected regret
        Assert.True(thompson < uniform / 5, $"Thompson {thompson:F1} against uniform {uniform:F1}");
    }

    [Fact]
    public void LinUcb_LearnsAContextDependentBestArm()
    {
        // Arm a is best for chat, arm b for embeddings: a context-free bandit cannot be right for both.
        var time = new ManualTimeProvider();
        time.Advance(TimeSpan.FromHours(12));
        var selector = new BanditSelector(random: new RandomSource(4), time: time);
        var site = BanditSimulation.Site(BanditAlgorithm.LinUcb);
        var outcomes = new Random(4);
        string[] arms = ["a", "b"];
        var correctLate = 0;
        const int T = 6_000;
        for (var t = 0; t < T; t++)
        {
            var chat = t % 2 == 0;
            var request = new RouteRequest { TenantId = "t1", PolicyId = "p", RequestId = $"r{t}", MessageType = chat ? "chat" : "embedding", InputTokens = 200 + (t % 700) };
            var pick = selector.Select(site, arms, request);
            var success = (chat, pick) switch
            {
                (true, 0) or (false, 1) => 0.8,
                _ => 0.3,
            };
            if (t >= T - 1_000)
            {
                correctLate += (chat ? pick == 0 : pick == 1) ? 1 : 0;
            }
            selector.RecordOutcome("t1", request.RequestId!, arms[pick], outcomes.NextDouble() < success, 100, 1000);
        }
        output.WriteLine($"LinUCB: {correctLate}/1000 late picks were the context's best arm");
        Assert.True(correctLate >= 900, $"{correctLate} of the last 1,000 picks were the context's best arm");
    }

    [Fact]
    public void ExplorationFloor_GivesEveryArmItsShare()
    {
        const int T = 20_000;
        var selector = new BanditSelector(new BanditOptions { ExplorationFloor = 0.05 }, new RandomSource(2));
        var (_, picks) = BanditSimulation.Run(selector, BanditSimulation.Site(BanditAlgorithm.Thompson), [0.1, 0.1, 0.9], T, 2);
        Assert.True(picks[0] >= T * 0.05 * 0.85 && picks[1] >= T * 0.05 * 0.85, $"picks: {string.Join(", ", picks)}");
    }

    [Theory]
    [InlineData(BanditAlgorithm.Thompson)]
    [InlineData(BanditAlgorithm.LinUcb)]
    public void Select_AllocatesNothing_OnceTheSiteIsKnown(BanditAlgorithm algorithm)
    {
        var selector = new BanditSelector(random: new RandomSource(1));
        var site = BanditSimulation.Site(algorithm);
        var request = new RouteRequest { TenantId = "t1", PolicyId = "p", RequestId = "r1", MessageType = "chat", InputTokens = 300 };
        string[] arms = ["a", "b", "c"];
        for (var i = 0; i < 100; i++)
        {
            selector.Select(site, arms, request);
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            selector.Select(site, arms, request);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Rewards_FollowTheSitesRewardKind()
    {
        var selector = new BanditSelector(new BanditOptions { ExplorationFloor = 0 }, new RandomSource(5));
        string[] arms = ["a"];
        string[] two = ["a", "b"];
        var latency = BanditSimulation.Site(BanditAlgorithm.Thompson, BanditReward.Latency) with { SiteId = "lat" };
        var quality = BanditSimulation.Site(BanditAlgorithm.Thompson, BanditReward.Quality) with { SiteId = "q" };

        selector.Select(latency, two, new RouteRequest { TenantId = "t1", RequestId = "r-lat" });
        var picked = selector.Sites("t1").Single(s => s.Site.SiteId == "lat").Arms.Single(a => a.Pulls == 1).Name;
        selector.RecordOutcome("t1", "r-lat", picked, succeeded: true, latencyMs: 1_000, costNanos: 0);
        selector.Select(quality, two, new RouteRequest { TenantId = "t1", RequestId = "r-q" });
        var qualityArm = selector.Sites("t1").Single(s => s.Site.SiteId == "q").Arms.Single(a => a.Pulls == 1).Name;
        selector.RecordOutcome("t1", "r-q", qualityArm, succeeded: true, latencyMs: 5, costNanos: 0); // waits for feedback

        var latencyView = selector.Sites("t1").Single(s => s.Site.SiteId == "lat").Arms.Single(a => a.Name == picked);
        Assert.Equal(1, latencyView.Rewards);
        Assert.Equal(0.5, latencyView.MeanReward, 9); // s/(s + latency) with s = 1,000 ms
        Assert.Equal(0, selector.Sites("t1").Single(s => s.Site.SiteId == "q").Arms.Sum(a => a.Rewards));
        Assert.True(selector.RecordQuality("t1", "r-q", 0.9));
        Assert.False(selector.RecordQuality("t1", "r-q", 0.9)); // learned once
        Assert.Equal(0.9, selector.Sites("t1").Single(s => s.Site.SiteId == "q").Arms.Single(a => a.Name == qualityArm).MeanReward, 9);
        Assert.Equal(0, selector.Select(latency, arms, new RouteRequest { TenantId = "t1", RequestId = "r-one" }));
        Assert.Empty(selector.Sites("t2"));
    }

    [Fact]
    public void AFallbackToAnotherProvider_IsNoSuccessOfThePickedArm()
    {
        var selector = new BanditSelector(new BanditOptions { ExplorationFloor = 0 }, new RandomSource(5));
        var site = BanditSimulation.Site(BanditAlgorithm.Thompson);
        string[] arms = ["a", "b"];
        var pick = selector.Select(site, arms, new RouteRequest { TenantId = "t1", RequestId = "r1" });
        selector.RecordOutcome("t1", "r1", arms[1 - pick], succeeded: true, 10, 10);
        var view = selector.Sites(null).Single().Arms.Single(a => a.Name == arms[pick]);
        Assert.Equal(1, view.Rewards);
        Assert.Equal(0, view.MeanReward);
    }

    [Fact]
    public void AnotherTenantsRequestWithTheSameId_RewardsNothing()
    {
        var selector = new BanditSelector(new BanditOptions { ExplorationFloor = 0 }, new RandomSource(5));
        var site = BanditSimulation.Site(BanditAlgorithm.Thompson, BanditReward.Quality);
        string[] arms = ["a", "b"];
        var pick = selector.Select(site, arms, new RouteRequest { TenantId = "t1", RequestId = "shared-id" });

        selector.RecordOutcome("t2", "shared-id", arms[pick], succeeded: false, 10, 10);
        Assert.False(selector.RecordQuality("t2", "shared-id", 0.0));
        Assert.True(selector.RecordQuality("t1", "shared-id", 1.0));

        var arm = selector.Sites("t1").Single().Arms.Single(a => a.Name == arms[pick]);
        Assert.Equal(1, arm.Rewards);
        Assert.Equal(1.0, arm.MeanReward);
    }

    [Fact]
    public void ConcurrentPicksAndRewards_LoseNoPull()
    {
        var selector = new BanditSelector(random: new RandomSource(8));
        string[] arms = ["a", "b", "c"];
        Parallel.For(0, 8, worker =>
        {
            var site = BanditSimulation.Site(worker % 2 == 0 ? BanditAlgorithm.Thompson : BanditAlgorithm.LinUcb);
            for (var i = 0; i < 5_000; i++)
            {
                var id = $"w{worker}-{i}";
                var pick = selector.Select(site, arms, new RouteRequest { TenantId = "t1", RequestId = id, MessageType = "chat" });
                selector.RecordOutcome("t1", id, arms[pick], i % 3 != 0, 50, 100);
            }
        });
        Assert.Equal(40_000, selector.Sites("t1").Sum(s => s.Arms.Sum(a => a.Pulls)));
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentException>(() => new BanditSelector(new BanditOptions { PendingCapacity = 1000 }));
        Assert.Throws<ArgumentException>(() => new BanditSelector(new BanditOptions { ExplorationFloor = 0.5 }));
    }
}
