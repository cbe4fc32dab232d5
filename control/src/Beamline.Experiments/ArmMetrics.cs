using Beamline.Experiments.Statistics;

namespace Beamline.Experiments;

/// <summary>One arm's running figures. Not thread-safe: its experiment locks.</summary>
internal sealed class ArmMetrics
{
    public long Requests;
    public long Executions;
    public long Errors;
    public long CostNanos;
    public readonly RunningSummary Latency;
    public readonly RunningSummary Cost;
    public readonly RunningSummary Quality;

    public ArmMetrics()
    {
        Latency = new();
        Cost = new();
        Quality = new();
    }

    public ArmMetrics(ArmState state)
    {
        Requests = state.Requests;
        Executions = state.Executions;
        Errors = state.Errors;
        CostNanos = state.CostNanos;
        Latency = new(state.Latency);
        Cost = new(state.Cost);
        Quality = new(state.Quality);
    }

    public ArmState State() => new(Requests, Executions, Errors, CostNanos, Latency.State, Cost.State, Quality.State);

    /// <summary>How many observations of <paramref name="metric"/> the arm has.</summary>
    public long Observations(ExperimentMetric metric) => metric switch
    {
        ExperimentMetric.Quality => Quality.Count,
        ExperimentMetric.Latency => Latency.Count,
        ExperimentMetric.Cost => Cost.Count,
        _ => Executions,
    };

    public ArmResult Snapshot(ExperimentArm arm) => new()
    {
        Name = arm.Name,
        ProviderId = arm.ProviderId,
        PolicyId = arm.PolicyId,
        WeightBasisPoints = arm.WeightBasisPoints,
        Requests = Requests,
        Executions = Executions,
        Errors = Errors,
        CostNanos = CostNanos,
        Latency = Latency.Snapshot(),
        Cost = Cost.Snapshot(),
        Quality = Quality.Snapshot(),
    };
}

/// <summary>One arm's running figures, exactly, for saving and restoring them.</summary>
/// <param name="Requests">Requests routed to the arm.</param>
/// <param name="Executions">Executes that reached a provider.</param>
/// <param name="Errors">Executes that failed.</param>
/// <param name="CostNanos">The total cost, in nano-dollars.</param>
/// <param name="Latency">Latency of successful executes, in ms.</param>
/// <param name="Cost">Cost of successful executes, in nano-dollars.</param>
/// <param name="Quality">Feedback scores.</param>
public sealed record ArmState(long Requests, long Executions, long Errors, long CostNanos, SummaryState Latency, SummaryState Cost, SummaryState Quality)
{
    /// <summary>No observations.</summary>
    public static ArmState Empty { get; } = new(0, 0, 0, 0, default, default, default);

    /// <summary>Both arms' figures together (counts added, summaries combined exactly).</summary>
    public static ArmState Combine(ArmState a, ArmState b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.Requests + b.Requests, a.Executions + b.Executions, a.Errors + b.Errors, a.CostNanos + b.CostNanos,
            SummaryState.Combine(a.Latency, b.Latency), SummaryState.Combine(a.Cost, b.Cost), SummaryState.Combine(a.Quality, b.Quality));
    }
}

/// <summary>One arm's figures at a moment.</summary>
public sealed record ArmResult
{
    /// <summary>The arm's name.</summary>
    public required string Name { get; init; }

    /// <summary>Its provider, or null.</summary>
    public string? ProviderId { get; init; }

    /// <summary>Its policy, or null.</summary>
    public string? PolicyId { get; init; }

    /// <summary>Its share of traffic in basis points.</summary>
    public int WeightBasisPoints { get; init; }

    /// <summary>Requests routed to the arm (decides and executes).</summary>
    public long Requests { get; init; }

    /// <summary>Executes that reached a provider.</summary>
    public long Executions { get; init; }

    /// <summary>Executes that failed.</summary>
    public long Errors { get; init; }

    /// <summary>The error rate of executes (0 with none).</summary>
    public double ErrorRate => Executions == 0 ? 0 : (double)Errors / Executions;

    /// <summary>The total cost of executes, in nano-dollars.</summary>
    public long CostNanos { get; init; }

    /// <summary>Latency of executes, in ms.</summary>
    public SampleStatistics Latency { get; init; }

    /// <summary>Cost per execute, in nano-dollars.</summary>
    public SampleStatistics Cost { get; init; }

    /// <summary>Feedback scores (0..1).</summary>
    public SampleStatistics Quality { get; init; }
}

/// <summary>A challenger compared with the control at the latest look, on every metric (only the primary decides).</summary>
public sealed record ArmComparison
{
    /// <summary>The challenger's name.</summary>
    public required string Arm { get; init; }

    /// <summary>Welch's t test on quality.</summary>
    public TestResult Quality { get; init; }

    /// <summary>Welch's t test on latency.</summary>
    public TestResult Latency { get; init; }

    /// <summary>Welch's t test on cost.</summary>
    public TestResult Cost { get; init; }

    /// <summary>The two-proportion z test on the error rate.</summary>
    public TestResult ErrorRate { get; init; }

    /// <summary>The test of the given metric.</summary>
    public TestResult For(ExperimentMetric metric) => metric switch
    {
        ExperimentMetric.Quality => Quality,
        ExperimentMetric.Latency => Latency,
        ExperimentMetric.Cost => Cost,
        _ => ErrorRate,
    };
}

/// <summary>An experiment's state and results at a moment.</summary>
public sealed record ExperimentResults
{
    /// <summary>The definition.</summary>
    public required ExperimentDefinition Definition { get; init; }

    /// <summary>Where it stands.</summary>
    public required ExperimentStatus Status { get; init; }

    /// <summary>The looks taken so far.</summary>
    public int Looks { get; init; }

    /// <summary>The p-value threshold of the latest look (per comparison), or null before the first.</summary>
    public double? LastThreshold { get; init; }

    /// <summary>The winning arm's name, or null.</summary>
    public string? Winner { get; init; }

    /// <summary>When the experiment was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it ended (promoted, completed or stopped), or null.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Every arm's figures, in definition order.</summary>
    public required IReadOnlyList<ArmResult> Arms { get; init; }

    /// <summary>Each challenger against the control, from the figures above.</summary>
    public required IReadOnlyList<ArmComparison> Comparisons { get; init; }
}
