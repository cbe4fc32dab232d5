using Beamline.Chaos.Load;

namespace Beamline.Chaos.Scenarios;

/// <summary>
/// Blocks that never return by themselves (<see cref="ChaosOptions.HangType"/>) hold half of a
/// worker's io runners while the normal load shares the pool: every hung block must still be
/// answered (at its deadline) and the rest of the load must not starve: 90 % of it answered ok.
/// </summary>
public sealed class HungExecutorScenario : ChaosScenario
{
    /// <inheritdoc />
    public override string Name => "hung-executor";

    /// <inheritdoc />
    public override string Fault => "blocks that never return hold half the io runners";

    /// <inheritdoc />
    public override double? RequiredOkShare => 0.9;

    /// <inheritdoc />
    public override Cluster.ClusterShape Shape => new(ControlPlanes: 1, Workers: 1);

    /// <inheritdoc />
    public override IReadOnlyList<LoadPlan> Plan(LoadPaths paths, ChaosOptions options)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(options);
        var normal = Math.Max(1, options.InFlight / 2);
        // The io pool has 8 runners: 4 hung blocks in flight at all times take half of them.
        return [new(paths.Blocks, normal), new(paths.Assignments, Math.Max(1, options.InFlight - normal)), new(paths.Hung, 4)];
    }

    /// <inheritdoc />
    public override Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Note($"4 × {context.Options.HangType} ({context.Options.HangPayload}) kept in flight on pool io (8 runners)");
        return Task.CompletedTask;
    }
}
