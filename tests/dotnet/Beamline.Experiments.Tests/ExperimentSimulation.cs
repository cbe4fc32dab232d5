using System.Collections.Immutable;

namespace Beamline.Experiments.Tests;

/// <summary>
/// A simulated environment with known arm means: users arrive, the experiment assigns each its
/// sticky arm, and each request's outcome is drawn from that arm's true distribution (seeded).
/// </summary>
internal static class ExperimentSimulation
{
    public static ExperimentDefinition Definition(ExperimentMetric metric, int arms = 2, int samplesPerLook = 200, int maxLooks = 5,
        double alpha = 0.05, string id = "exp", int[]? weights = null) => new()
    {
        Id = id,
        TenantId = "t1",
        PolicyId = "default",
        Metric = metric,
        Alpha = alpha,
        MaxLooks = maxLooks,
        SamplesPerLook = samplesPerLook,
        Arms = [.. Enumerable.Range(0, arms).Select(i => new ExperimentArm
        {
            Name = i == 0 ? "control" : $"challenger{i}",
            ProviderId = $"p{i}",
            WeightBasisPoints = weights?[i] ?? (10_000 / arms) + (i == 0 ? 10_000 % arms : 0),
        })],
    };

    /// <summary>
    /// Runs one experiment to its end: each request's user is new, its arm's outcome is drawn with
    /// <paramref name="errorRates"/> (for executions) and <paramref name="qualityMeans"/> (a feedback
    /// score uniform in mean ± 0.3). Returns the final results.
    /// </summary>
    public static ExperimentResults Run(ExperimentDefinition definition, double[] errorRates, double[] qualityMeans, int seed, int maxRequests = 1_000_000)
    {
        var random = new Random(seed);
        var registry = new ExperimentRegistry(TimeProvider.System);
        var experiment = registry.Create(definition);
        for (var i = 0; i < maxRequests && experiment.Status == ExperimentStatus.Running; i++)
        {
            var arm = experiment.ArmFor($"user-{seed}-{i}");
            var failed = random.NextDouble() < errorRates[arm];
            registry.RecordExecution(experiment, arm, failed, latencyMs: 100 + (random.NextDouble() * 20), costNanos: 1000);
            if (!failed && definition.Metric == ExperimentMetric.Quality)
            {
                registry.RecordQuality(experiment, arm, Math.Clamp(qualityMeans[arm] + ((random.NextDouble() - 0.5) * 0.6), 0, 1));
            }
        }
        return experiment.Results();
    }

    public static ImmutableArray<double> Same(int arms, double value) => [.. Enumerable.Repeat(value, arms)];
}
