using Xunit.Abstractions;
namespace Beamline.Experiments.Tests;

public sealed class ExperimentTests(ITestOutputHelper output)
{
    private const double Alpha = 0.05;

    [Fact]
    public void ErrorRate_TheTrueWinnerIsPromoted_AndTheLoserNever()
    {
        // Control fails 10%, the challenger 6%; 300 executions per arm per look, 5 looks at most.
        const int Runs = 200;
        var right = 0;
        var wrong = 0;
        for (var seed = 0; seed < Runs; seed++)
        {
            var results = ExperimentSimulation.Run(ExperimentSimulation.Definition(ExperimentMetric.ErrorRate, samplesPerLook: 300), [0.10, 0.06], [0, 0], seed);
            right += results.Winner == "challenger1" ? 1 : 0;
            wrong += results.Winner == "control" ? 1 : 0;
        }
        output.WriteLine($"error rate 10% vs 6%: true winner {right}/{Runs}, wrong winner {wrong}/{Runs}");
        // Power at the last look (1,500 per arm) is about 0.98; the union bound caps the wrong pick at α.
        Assert.True(right >= Runs * 0.9, $"picked the true winner {right} of {Runs} times");
        Assert.True(wrong <= Runs * Alpha, $"picked the worse arm {wrong} of {Runs} times");
    }

    [Fact]
    public void Quality_TheTrueWinnerIsPromoted_AmongThreeArms()
    {
        const int Runs = 100;
        var right = 0;
        var wrong = 0;
        for (var seed = 0; seed < Runs; seed++)
        {
            var results = ExperimentSimulation.Run(ExperimentSimulation.Definition(ExperimentMetric.Quality, arms: 3), [0, 0, 0], [0.60, 0.60, 0.65], seed);
            right += results.Winner == "challenger2" ? 1 : 0;
            wrong += results.Winner is "challenger1" or "control" ? 1 : 0;
        }
        output.WriteLine($"quality 0.60/0.60/0.65: true winner {right}/{Runs}, wrong winner {wrong}/{Runs}");
        Assert.True(right >= Runs * 0.9, $"picked the true winner {right} of {Runs} times");
        Assert.True(wrong <= Runs * Alpha, $"picked a worse arm {wrong} of {Runs} times");
    }

    [Theory]
    [InlineData(ExperimentMetric.ErrorRate)]
    [InlineData(ExperimentMetric.Quality)]
    [InlineData(ExperimentMetric.Latency)]
    public void AA_FalsePositiveRate_StaysAtOrBelowAlpha(ExperimentMetric metric)
    {
        // Identical arms: any winner is a false positive. Over N seeded experiments the rate may exceed
        // α only by sampling noise: the tolerance is three standard errors of a proportion at α.
        const int Runs = 600;
        var falsePositives = 0;
        for (var seed = 0; seed < Runs; seed++)
        {
            var results = ExperimentSimulation.Run(ExperimentSimulation.Definition(metric, samplesPerLook: 100), [0.1, 0.1], [0.6, 0.6], 10_000 + seed);
            Assert.NotEqual(ExperimentStatus.Running, results.Status);
            falsePositives += results.Winner is null ? 0 : 1;
        }
        output.WriteLine($"A/A {metric}: {falsePositives}/{Runs} false positives");
        var tolerance = 3 * Math.Sqrt(Alpha * (1 - Alpha) / Runs);
        Assert.True((double)falsePositives / Runs <= Alpha + tolerance, $"{falsePositives} false positives in {Runs} A/A experiments");
    }

    [Fact]
    public void Promotion_EndsTheExperiment_AndSendsEveryUserToTheWinner()
    {
        var promoted = new List<ExperimentResults>();
        var registry = new ExperimentRegistry(TimeProvider.System, new RecordingPromotions(promoted));
        var experiment = registry.Create(ExperimentSimulation.Definition(ExperimentMetric.ErrorRate, samplesPerLook: 50, maxLooks: 1));
        for (var i = 0; i < 50; i++)
        {
            registry.RecordExecution(experiment, 0, failed: true, 10, 0);
            registry.RecordExecution(experiment, 1, failed: false, 10, 0);
        }

        Assert.Equal(ExperimentStatus.Promoted, experiment.Status);
        var results = Assert.Single(promoted);
        Assert.Equal("challenger1", results.Winner);
        Assert.Equal(1, results.Looks);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, experiment.ArmFor($"u{i}"));
        }
        Assert.True(registry.TryGetRouting("t1", "default", out _)); // the winner keeps routing
    }

    [Fact]
    public void NoWinnerByTheLastLook_CompletesAndHandsTrafficBack()
    {
        var registry = new ExperimentRegistry(TimeProvider.System);
        var experiment = registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Latency, samplesPerLook: 10, maxLooks: 2));
        for (var i = 0; i < 20; i++)
        {
            registry.RecordExecution(experiment, 0, false, 100 + (i % 3), 0);
            registry.RecordExecution(experiment, 1, false, 100 + (i % 3), 0);
        }

        var results = experiment.Results();
        Assert.Equal(ExperimentStatus.Completed, results.Status);
        Assert.Null(results.Winner);
        Assert.Equal(2, results.Looks);
        Assert.False(registry.TryGetRouting("t1", "default", out _));
    }

    [Fact]
    public void Canary_SendsItsShareToTheChallenger_StickyPerUser()
    {
        var experiment = new Experiment(ExperimentSimulation.Definition(ExperimentMetric.Quality, weights: [9_500, 500]), DateTimeOffset.UnixEpoch);
        var challenger = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var arm = experiment.ArmFor($"user-{i}");
            Assert.Equal(arm, experiment.ArmFor($"user-{i}"));
            challenger += arm;
        }
        Assert.InRange(challenger, 4_700, 5_300); // 5% of 100,000 ± 4.4 standard errors
    }

    [Fact]
    public void Assignment_IsStableAcrossProcesses_AndIndependentBetweenExperiments()
    {
        // A fixed value: string hash codes (randomized per process) would break stickiness after a restart.
        Assert.Equal(ExperimentAssignment.Bucket("exp", "alice"), ExperimentAssignment.Bucket("exp", "alice"));
        Assert.Equal(6_888, ExperimentAssignment.Bucket("exp", "alice"));
        var same = 0;
        for (var i = 0; i < 10_000; i++)
        {
            same += (ExperimentAssignment.Bucket("a", $"u{i}") < 5_000) == (ExperimentAssignment.Bucket("b", $"u{i}") < 5_000) ? 1 : 0;
        }
        Assert.InRange(same, 4_700, 5_300);
        Assert.Equal("u", ExperimentAssignment.UnitOf("u", "s", "r"));
        Assert.Equal("s", ExperimentAssignment.UnitOf(null, "s", "r"));
        Assert.Equal("r", ExperimentAssignment.UnitOf("", null, "r"));
    }

    [Fact]
    public void Registry_RefusesASecondRunningExperimentOnAPolicy_AndKeepsTenantsApart()
    {
        var registry = new ExperimentRegistry(TimeProvider.System);
        registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, id: "one"));

        Assert.Throws<ExperimentConflictException>(() => registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, id: "one")));
        Assert.Throws<ExperimentConflictException>(() => registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, id: "two")));
        registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, id: "one") with { TenantId = "t2" });
        Assert.Single(registry.List("t1"));
        Assert.False(registry.TryGet("t2", "two", out _));
        Assert.True(registry.Stop("t1", "one"));
        Assert.False(registry.TryGetRouting("t1", "default", out _));
        registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, id: "two"));
        Assert.True(registry.TryGetRouting("t1", "default", out var routing) && routing.Definition.Id == "two");
    }

    [Fact]
    public void Definition_Validation_NamesEveryProblem()
    {
        var bad = ExperimentSimulation.Definition(ExperimentMetric.Quality, weights: [9_000, 500]) with { Alpha = 0.7, MaxLooks = 0 };
        var errors = bad.Validate();
        Assert.Contains(errors, e => e.Contains("100%", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("alpha", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("max_looks", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new Experiment(bad, DateTimeOffset.UnixEpoch));
    }

    [Fact]
    public void SaveAndRestore_KeepLooksStatusAndEveryFigure()
    {
        var registry = new ExperimentRegistry(TimeProvider.System);
        var experiment = registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality, samplesPerLook: 3, maxLooks: 4));
        var random = new Random(1);
        for (var i = 0; i < 7; i++)
        {
            registry.RecordRequest(experiment, i % 2);
            registry.RecordExecution(experiment, i % 2, failed: i == 3, 50 + random.NextDouble(), 1_000 + i);
            registry.RecordQuality(experiment, i % 2, 0.5 + (random.NextDouble() * 0.01));
        }
        var before = experiment.Results();

        var restored = new ExperimentRegistry(TimeProvider.System);
        restored.Restore(registry.Save());

        Assert.True(restored.TryGetRouting("t1", "default", out var again));
        var after = again.Results();
        Assert.Equal(before.Looks, after.Looks);
        Assert.Equal(1, after.Looks);
        Assert.Equal(before.Status, after.Status);
        Assert.Equal(before.LastThreshold, after.LastThreshold);
        Assert.Equal(before.Arms, after.Arms);
        Assert.Equal(before.Comparisons, after.Comparisons);
        Assert.True(registry.Version > 0);
    }

    private sealed class RecordingPromotions(List<ExperimentResults> promoted) : IExperimentPromotions
    {
        public void Promoted(ExperimentResults results) => promoted.Add(results);
    }
}
