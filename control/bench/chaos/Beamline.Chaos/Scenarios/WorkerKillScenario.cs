namespace Beamline.Chaos.Scenarios;

/// <summary>kill -9 of one of two workers under load (blocks in flight on it), the other keeps serving.</summary>
public sealed class WorkerKillScenario : ChaosScenario
{
    /// <inheritdoc />
    public override string Name => "worker-kill";

    /// <inheritdoc />
    public override string Fault => "kill -9 one of 2 workers under load";

    /// <inheritdoc />
    public override async Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.At(context.Options.LoadSeconds / 4, cancellationToken).ConfigureAwait(false);
        var killed = await context.Cluster.KillWorkerAsync(0).ConfigureAwait(false);
        context.Note($"kill -9 worker {killed}");
    }
}
