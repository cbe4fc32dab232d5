namespace Beamline.Chaos.Cluster;

/// <summary>How many control planes and workers a scenario starts, and each worker's pools.</summary>
/// <param name="ControlPlanes">Control planes (<c>beamline serve --nats</c>), each with its own data directory.</param>
/// <param name="Workers">Workers (<c>beamline-worker --nats</c>), all on one shared sandbox root.</param>
public sealed record ClusterShape(int ControlPlanes, int Workers)
{
    /// <summary>Each worker's pools. Defaults to io=8 (sql blocks) and cpu=2.</summary>
    public IReadOnlyList<string> Pools { get; init; } = ["io=8", "cpu=2"];
}
