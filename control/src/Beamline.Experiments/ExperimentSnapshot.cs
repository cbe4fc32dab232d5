using System.Collections.Immutable;

namespace Beamline.Experiments;

/// <summary>An experiment's whole state, for saving it across restarts (<see cref="Experiment.Save"/>).</summary>
public sealed record ExperimentSnapshot
{
    /// <summary>The definition.</summary>
    public required ExperimentDefinition Definition { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Where it stands.</summary>
    public ExperimentStatus Status { get; init; }

    /// <summary>The winning arm's index, or −1.</summary>
    public int Winner { get; init; } = -1;

    /// <summary>The looks taken.</summary>
    public int Looks { get; init; }

    /// <summary>The latest look's threshold, or null.</summary>
    public double? LastThreshold { get; init; }

    /// <summary>When it ended, or null.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Every arm's figures, in definition order.</summary>
    public required ImmutableArray<ArmState> Arms { get; init; }
}
