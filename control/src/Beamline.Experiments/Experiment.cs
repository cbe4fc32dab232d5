using Beamline.Experiments.Statistics;

namespace Beamline.Experiments;

/// <summary>
/// A live experiment: its definition, its arms' figures, its looks and its status. Assignment
/// reads only immutable fields and the status (no lock); recording and looking lock the experiment.
/// Alone, it looks at its own figures as they come. Shared by several control planes
/// (<see cref="ShareLooks"/>), it only records: the share combines every instance's figures
/// (<see cref="LocalStates"/>), looks at them (<see cref="LookAt"/>) and applies the verdict that
/// won the shared record (<see cref="Apply"/>), so each look is taken once for all of them.
/// </summary>
public sealed class Experiment
{
    private readonly Lock _lock = new();
    private readonly ArmMetrics[] _metrics;
    private readonly int[] _weights;
    private volatile ExperimentStatus _status = ExperimentStatus.Running;
    private volatile int _winner = -1;
    private int _looks;
    private double? _lastThreshold;
    private DateTimeOffset? _endedAt;
    private ArmMetrics[]? _combined;
    private volatile bool _looksShared;

    /// <summary>Starts an experiment from a valid definition.</summary>
    public Experiment(ExperimentDefinition definition, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (definition.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(definition));
        }
        Definition = definition;
        CreatedAt = createdAt;
        _metrics = new ArmMetrics[definition.Arms.Length];
        _weights = new int[definition.Arms.Length];
        for (var i = 0; i < _metrics.Length; i++)
        {
            _metrics[i] = new ArmMetrics();
            _weights[i] = definition.Arms[i].WeightBasisPoints;
        }
    }

    /// <summary>Restores an experiment saved with <see cref="Save"/> (its looks, status and every arm's figures).</summary>
    public Experiment(ExperimentSnapshot snapshot)
        : this(snapshot?.Definition ?? throw new ArgumentNullException(nameof(snapshot)), snapshot.CreatedAt)
    {
        if (snapshot.Arms.Length != _metrics.Length || snapshot.Winner >= _metrics.Length || snapshot.Looks < 0)
        {
            throw new ArgumentException("the saved state does not fit its definition", nameof(snapshot));
        }
        for (var i = 0; i < _metrics.Length; i++)
        {
            _metrics[i] = new ArmMetrics(snapshot.Arms[i]);
        }
        _status = snapshot.Status;
        _winner = snapshot.Winner;
        _looks = snapshot.Looks;
        _lastThreshold = snapshot.LastThreshold;
        _endedAt = snapshot.EndedAt;
    }

    /// <summary>The definition.</summary>
    public ExperimentDefinition Definition { get; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Where it stands.</summary>
    public ExperimentStatus Status => _status;

    /// <summary>True while it decides where its policy's requests go (running, or promoted).</summary>
    public bool RoutesTraffic => _status is ExperimentStatus.Running or ExperimentStatus.Promoted;

    /// <summary>
    /// The arm for a unit (see <see cref="ExperimentAssignment.UnitOf"/>): the promoted winner once
    /// there is one, else the unit's sticky arm.
    /// </summary>
    public int ArmFor(string unit)
    {
        var winner = _winner;
        if (_status == ExperimentStatus.Promoted && winner >= 0)
        {
            return winner;
        }
        return ExperimentAssignment.ArmOf(_weights, ExperimentAssignment.Bucket(Definition.Id, unit));
    }

    /// <summary>Its status, winner and looks (what control planes share).</summary>
    public ExperimentVerdict Verdict
    {
        get
        {
            lock (_lock)
            {
                return VerdictLocked();
            }
        }
    }

    /// <summary>From now on looks are taken by the share (<see cref="LookAt"/>), not as observations come (false: as they come again).</summary>
    public void ShareLooks(bool shared = true) => _looksShared = shared;

    /// <summary>This instance's own figures of every arm (what it publishes to the others).</summary>
    public ArmState[] LocalStates()
    {
        lock (_lock)
        {
            var states = new ArmState[_metrics.Length];
            for (var i = 0; i < states.Length; i++)
            {
                states[i] = _metrics[i].State();
            }
            return states;
        }
    }

    /// <summary>
    /// Takes every instance's figures together (<paramref name="combined"/>, one per arm): the
    /// results show them from now on, and when a look is due on them, the verdict of that look
    /// (not applied: the caller applies it once it has won the shared record). Null when no look is due.
    /// </summary>
    public ExperimentVerdict? LookAt(IReadOnlyList<ArmState> combined, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(combined);
        if (combined.Count != _metrics.Length)
        {
            throw new ArgumentException("one state per arm", nameof(combined));
        }
        lock (_lock)
        {
            var metrics = new ArmMetrics[combined.Count];
            for (var i = 0; i < metrics.Length; i++)
            {
                metrics[i] = new ArmMetrics(combined[i]);
            }
            _combined = metrics;
            return LookDue(metrics, VerdictLocked(), now);
        }
    }

    /// <summary>
    /// Takes <paramref name="verdict"/> as its own (the shared record's) when it moves the
    /// experiment forward: a running one takes more looks or an end; a promoted one only a stop;
    /// stopped and completed are final. So a record that arrives late (an older look, the create
    /// of an experiment stopped here since) never undoes anything. True when something changed.
    /// </summary>
    public bool Apply(ExperimentVerdict verdict)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        if (verdict.Winner >= _metrics.Length || verdict.Looks < 0)
        {
            throw new ArgumentException("the verdict does not fit the definition", nameof(verdict));
        }
        lock (_lock)
        {
            var current = VerdictLocked();
            if (current == verdict || !Advances(current, verdict))
            {
                return false;
            }
            ApplyLocked(verdict);
            return true;
        }
    }

    private static bool Advances(ExperimentVerdict from, ExperimentVerdict to) => from.Status switch
    {
        ExperimentStatus.Running => to.Status != ExperimentStatus.Running || to.Looks > from.Looks,
        ExperimentStatus.Promoted => to.Status == ExperimentStatus.Stopped,
        _ => false,
    };

    /// <summary>Counts a request routed to arm <paramref name="arm"/> (a decide or an execute).</summary>
    public void RecordRequest(int arm)
    {
        lock (_lock)
        {
            _metrics[arm].Requests++;
        }
    }

    /// <summary>
    /// Records an execute of arm <paramref name="arm"/>: its latency, its cost and whether it failed.
    /// Returns the results when this observation made the experiment promote a winner (the caller
    /// records the promotion), else null.
    /// </summary>
    public ExperimentResults? RecordExecution(int arm, bool failed, double latencyMs, long costNanos, DateTimeOffset now)
    {
        lock (_lock)
        {
            var metrics = _metrics[arm];
            metrics.Executions++;
            if (failed)
            {
                metrics.Errors++;
            }
            else
            {
                // Latency and cost of failures would reward failing fast and cheap: they are left out.
                metrics.Latency.Add(latencyMs);
                metrics.Cost.Add(costNanos);
                metrics.CostNanos += costNanos;
            }
            return _looksShared ? null : LookIfDue(now);
        }
    }

    /// <summary>Records a feedback score (0..1) for a request of arm <paramref name="arm"/>; as <see cref="RecordExecution"/>, the results when it promoted a winner.</summary>
    public ExperimentResults? RecordQuality(int arm, double score, DateTimeOffset now)
    {
        lock (_lock)
        {
            _metrics[arm].Quality.Add(Math.Clamp(score, 0, 1));
            return _looksShared ? null : LookIfDue(now);
        }
    }

    /// <summary>Stops a running or promoted experiment: traffic goes back to the policy. False when it had ended already.</summary>
    public bool Stop(DateTimeOffset now)
    {
        lock (_lock)
        {
            if (!RoutesTraffic)
            {
                return false;
            }
            _status = ExperimentStatus.Stopped;
            _endedAt = now;
            return true;
        }
    }

    /// <summary>Everything needed to restore this experiment exactly (<see cref="Experiment(ExperimentSnapshot)"/>).</summary>
    public ExperimentSnapshot Save()
    {
        lock (_lock)
        {
            var arms = new ArmState[_metrics.Length];
            for (var i = 0; i < arms.Length; i++)
            {
                arms[i] = _metrics[i].State();
            }
            return new ExperimentSnapshot
            {
                Definition = Definition,
                CreatedAt = CreatedAt,
                Status = _status,
                Winner = _winner,
                Looks = _looks,
                LastThreshold = _lastThreshold,
                EndedAt = _endedAt,
                Arms = [.. arms],
            };
        }
    }

    /// <summary>The current state and results.</summary>
    public ExperimentResults Results()
    {
        lock (_lock)
        {
            return ResultsLocked();
        }
    }

    private ExperimentResults ResultsLocked()
    {
        var metrics = _combined ?? _metrics;
        var arms = new ArmResult[metrics.Length];
        for (var i = 0; i < arms.Length; i++)
        {
            arms[i] = metrics[i].Snapshot(Definition.Arms[i]);
        }
        var comparisons = new ArmComparison[arms.Length - 1];
        for (var i = 1; i < arms.Length; i++)
        {
            comparisons[i - 1] = Compare(arms[i], arms[0]);
        }
        return new ExperimentResults
        {
            Definition = Definition,
            Status = _status,
            Looks = _looks,
            LastThreshold = _lastThreshold,
            Winner = _winner >= 0 ? Definition.Arms[_winner].Name : null,
            CreatedAt = CreatedAt,
            EndedAt = _endedAt,
            Arms = arms,
            Comparisons = comparisons,
        };
    }

    private static ArmComparison Compare(ArmResult challenger, ArmResult control) => new()
    {
        Arm = challenger.Name,
        Quality = SignificanceTests.Welch(challenger.Quality, control.Quality),
        Latency = SignificanceTests.Welch(challenger.Latency, control.Latency),
        Cost = SignificanceTests.Welch(challenger.Cost, control.Cost),
        ErrorRate = SignificanceTests.TwoProportion(challenger.Errors, challenger.Executions, control.Errors, control.Executions),
    };

    // Alone: a look at this instance's own figures when one is due; applied at once.
    private ExperimentResults? LookIfDue(DateTimeOffset now)
    {
        if (LookDue(_metrics, VerdictLocked(), now) is not { } verdict)
        {
            return null;
        }
        ApplyLocked(verdict);
        return verdict.Status == ExperimentStatus.Promoted ? ResultsLocked() : null;
    }

    private ExperimentVerdict VerdictLocked() => new(_status, _winner, _looks, _lastThreshold, _endedAt);

    private void ApplyLocked(ExperimentVerdict verdict)
    {
        _winner = verdict.Winner;
        _looks = verdict.Looks;
        _lastThreshold = verdict.LastThreshold;
        _endedAt = verdict.EndedAt;
        _status = verdict.Status; // last: a reader that sees Promoted sees its winner
    }

    // A look is due when every arm has gained SamplesPerLook observations of the primary metric
    // since the last one: its verdict, or null when none is due.
    private ExperimentVerdict? LookDue(ArmMetrics[] metrics, ExperimentVerdict current, DateTimeOffset now)
    {
        if (current.Status != ExperimentStatus.Running)
        {
            return null;
        }
        var metric = Definition.Metric;
        var due = (long)(current.Looks + 1) * Definition.SamplesPerLook;
        foreach (var arm in metrics)
        {
            if (arm.Observations(metric) < due)
            {
                return null;
            }
        }
        var looks = current.Looks + 1;
        var threshold = AlphaSpending.Threshold(Definition.Alpha, looks, Definition.MaxLooks, metrics.Length - 1);
        var winner = PickWinner(metrics, threshold);
        if (winner < 0)
        {
            return looks >= Definition.MaxLooks
                ? new(ExperimentStatus.Completed, -1, looks, threshold, now)
                : new(ExperimentStatus.Running, -1, looks, threshold, null);
        }
        return new(Definition.AutoPromote ? ExperimentStatus.Promoted : ExperimentStatus.Completed, winner, looks, threshold, now);
    }

    // The best significantly-better challenger; or, with two arms, the control when the challenger is significantly worse.
    private int PickWinner(ArmMetrics[] metrics, double threshold)
    {
        var metric = Definition.Metric;
        var control = metrics[0].Snapshot(Definition.Arms[0]);
        var best = -1;
        var bestValue = 0.0;
        for (var i = 1; i < metrics.Length; i++)
        {
            var challenger = metrics[i].Snapshot(Definition.Arms[i]);
            var test = Compare(challenger, control).For(metric);
            if (test.PValue > threshold)
            {
                continue;
            }
            var better = HigherIsBetter(metric) ? test.Statistic > 0 : test.Statistic < 0;
            if (better)
            {
                var value = Value(challenger, metric);
                if (best < 0 || (HigherIsBetter(metric) ? value > bestValue : value < bestValue))
                {
                    best = i;
                    bestValue = value;
                }
            }
            else if (metrics.Length == 2)
            {
                return 0;
            }
        }
        return best;
    }

    private static bool HigherIsBetter(ExperimentMetric metric) => metric == ExperimentMetric.Quality;

    private static double Value(ArmResult arm, ExperimentMetric metric) => metric switch
    {
        ExperimentMetric.Quality => arm.Quality.Mean,
        ExperimentMetric.Latency => arm.Latency.Mean,
        ExperimentMetric.Cost => arm.Cost.Mean,
        _ => arm.ErrorRate,
    };
}

/// <summary>An experiment's status, winner and looks: what a look decides and control planes share.</summary>
/// <param name="Status">Where it stands.</param>
/// <param name="Winner">The winning arm's index, or −1.</param>
/// <param name="Looks">The looks taken.</param>
/// <param name="LastThreshold">The latest look's p-value threshold, or null before the first.</param>
/// <param name="EndedAt">When it ended, or null.</param>
public sealed record ExperimentVerdict(ExperimentStatus Status, int Winner, int Looks, double? LastThreshold, DateTimeOffset? EndedAt);
