namespace Beamline.Chaos.Scenarios;

/// <summary>Two control planes and two workers; one control plane and one worker killed (-9) under load.</summary>
public sealed class TwoByTwoScenario : ChaosScenario
{
    /// <inheritdoc />
    public override string Name => "two-by-two";

    /// <inheritdoc />
    public override string Fault => "2 control planes + 2 workers, one of each kill -9";

    /// <inheritdoc />
    public override Cluster.ClusterShape Shape => new(ControlPlanes: 2, Workers: 2);

    /// <inheritdoc />
    public override async Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.At(context.Options.LoadSeconds / 4, cancellationToken).ConfigureAwait(false);
        var controlPlane = await context.Cluster.KillControlPlaneAsync(0).ConfigureAwait(false);
        context.Note($"kill -9 control plane {controlPlane}");
        await context.At(context.Options.LoadSeconds / 2, cancellationToken).ConfigureAwait(false);
        var worker = await context.Cluster.KillWorkerAsync(0).ConfigureAwait(false);
        context.Note($"kill -9 worker {worker}");
    }
}
