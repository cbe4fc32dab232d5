namespace Beamline.Chaos.Scenarios;

/// <summary>
/// nats-server killed (SIGKILL) under load and started again on the same port and store after
/// 2 s; the time from its return to full service (a block through the control plane and a CP1
/// assignment both answered ok) is measured. Target: under 5 s.
/// </summary>
public sealed class NatsRestartScenario : ChaosScenario
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public override string Name => "nats-restart";

    /// <inheritdoc />
    public override string Fault => "nats-server kill -9, back after 2 s";

    /// <inheritdoc />
    public override bool MeasuresRecovery => true;

    /// <inheritdoc />
    public override async Task InjectAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.At(context.Options.LoadSeconds / 4, cancellationToken).ConfigureAwait(false);
        await context.Cluster.Nats.KillAsync().ConfigureAwait(false);
        context.Note("nats-server killed");
        await Task.Delay(Outage, cancellationToken).ConfigureAwait(false);
        await context.Cluster.Nats.RestartAsync().ConfigureAwait(false);
        var back = context.Elapsed;
        context.Note("nats-server listening again");
        context.Recovery = await context.MeasureRecoveryAsync(back, [context.Paths.Blocks, context.Paths.Assignments],
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        context.Note(context.Recovery is { } recovery
            ? $"full service (a block and a CP1 assignment answered ok) {recovery.TotalSeconds:F2} s after NATS returned"
            : "no full service within 30 s of NATS returning");
    }
}
