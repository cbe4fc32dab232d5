namespace Beamline.Chaos.Scenarios;

/// <summary>No fault: the baseline that shows the harness counts right (every request answered and run once). The smoke test runs it.</summary>
public sealed class SteadyScenario : ChaosScenario
{
    /// <inheritdoc />
    public override string Name => "steady";

    /// <inheritdoc />
    public override string Fault => "none (baseline)";

    /// <inheritdoc />
    public override double LoadSeconds(ChaosOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Math.Max(1, options.LoadSeconds / 3);
    }

    /// <inheritdoc />
    public override Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}
