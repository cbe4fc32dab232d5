using Beamline.Chaos.Cluster;
using Beamline.Chaos.Load;

namespace Beamline.Chaos.Scenarios;

/// <summary>
/// One fault drill: the cluster it needs, the load it runs, and the faults it injects while the
/// load runs. To add one: derive from this, override what differs, and list it in
/// <see cref="ScenarioCatalog"/>. The runner starts the cluster, creates the table, runs the load
/// for <see cref="LoadSeconds"/> with <see cref="InjectAsync"/> beside it, waits for every answer,
/// counts rows and tallies.
/// </summary>
public abstract class ChaosScenario
{
    /// <summary>The name used by <c>--scenario</c> and in the table.</summary>
    public abstract string Name { get; }

    /// <summary>The fault, in a few words, for the table.</summary>
    public abstract string Fault { get; }

    /// <summary>The cluster the scenario starts. Defaults to one control plane and two workers.</summary>
    public virtual ClusterShape Shape => new(ControlPlanes: 1, Workers: 2);

    /// <summary>Whether the table shows how long service took to return (the scenario sets <see cref="ScenarioContext.Recovery"/>). Defaults to false.</summary>
    public virtual bool MeasuresRecovery => false;

    /// <summary>
    /// The share of the row-writing paths' requests that must be answered ok, when the fault should
    /// not starve them (a hung executor must not take the pool down with it); null: no such floor.
    /// Defaults to null.
    /// </summary>
    public virtual double? RequiredOkShare => null;

    /// <summary>Seconds of load. Defaults to <see cref="ChaosOptions.LoadSeconds"/>.</summary>
    public virtual double LoadSeconds(ChaosOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.LoadSeconds;
    }

    /// <summary>
    /// The load: which paths, how many in flight each. Defaults to the three paths (blocks, cp1,
    /// push) sharing <see cref="ChaosOptions.InFlight"/>: push (cheap: no executor runs, so it
    /// would crowd out the others) an eighth, blocks and cp1 half the rest each.
    /// </summary>
    public virtual IReadOnlyList<LoadPlan> Plan(LoadPaths paths, ChaosOptions options)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(options);
        var push = Math.Max(1, options.InFlight / 8);
        var half = Math.Max(1, (options.InFlight - push) / 2);
        return [new(paths.Blocks, half), new(paths.Assignments, Math.Max(1, options.InFlight - push - half)), new(paths.Push, push)];
    }

    /// <summary>Injects the faults while the load runs (times from <see cref="ScenarioContext.At"/>); returns when done.</summary>
    public abstract Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken);
}
