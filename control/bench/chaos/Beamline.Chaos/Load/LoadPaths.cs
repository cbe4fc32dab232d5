using Beamline.Chaos.Cluster;

namespace Beamline.Chaos.Load;

/// <summary>The load paths of one cluster; a scenario's plan picks from them.</summary>
public sealed class LoadPaths
{
    /// <summary>Creates the paths over <paramref name="cluster"/>.</summary>
    public LoadPaths(ChaosCluster cluster, HttpClient http, ResultListener results, ChaosOptions options)
    {
        Blocks = BlockPath.SqlInsert(cluster, http, options);
        Assignments = new AssignmentPath(cluster, results, options);
        Push = new PushPath(cluster, http, results, options);
        Hung = BlockPath.Hung(cluster, http, options);
    }

    /// <summary><c>POST /v1/blocks</c>, sql.exec INSERT.</summary>
    public ILoadPath Blocks { get; }

    /// <summary>CP1 ExecAssignments, sql.exec INSERT, the harness as the router.</summary>
    public ILoadPath Assignments { get; }

    /// <summary>CP1 decide with push_assignment through a control plane.</summary>
    public ILoadPath Push { get; }

    /// <summary>A block that does not return by itself.</summary>
    public ILoadPath Hung { get; }

    /// <summary>Every path, for the tally.</summary>
    public IReadOnlyList<ILoadPath> All => [Blocks, Assignments, Push, Hung];
}
