using System.Collections.Concurrent;

namespace Beamline.Experiments;

/// <summary>Where a promotion is recorded (the host writes it to the audit chain). Must not throw.</summary>
public interface IExperimentPromotions
{
    /// <summary>An experiment found a significant winner and promoted it.</summary>
    void Promoted(ExperimentResults results);
}

/// <summary>Refused: an experiment with the id exists, or the policy has a running one already.</summary>
public sealed class ExperimentConflictException(string message) : Exception(message);

/// <summary>
/// The experiments of every tenant, kept in memory: at most one running (or promoted) experiment
/// per tenant and policy. Thread-safe. Each tenant sees only its own experiments: every lookup
/// takes the tenant id. Several control planes share them through a share (the host's KV share):
/// it hears of local changes through <see cref="Changed"/>, brings others' through
/// <see cref="ApplyRemote"/> and <see cref="ApplyRemoteDelete"/>, and takes the looks
/// (<see cref="ShareLooks"/>, <see cref="ApplyVerdict"/>).
/// </summary>
public sealed class ExperimentRegistry(TimeProvider time, IExperimentPromotions? promotions = null)
{
    private readonly ConcurrentDictionary<(string Tenant, string Id), Experiment> _experiments = new();
    private readonly ConcurrentDictionary<(string Tenant, string Policy), Experiment> _routing = new();
    private readonly Lock _changeLock = new();
    private volatile int _routingCount;
    private volatile bool _looksShared;

    /// <summary>
    /// An experiment was created, stopped or deleted here (through the admin API): the tenant and
    /// the id (no longer found when it was deleted). Not raised for changes applied from elsewhere.
    /// </summary>
    public event Action<string, string>? Changed;

    /// <summary>The clock experiments are stamped with.</summary>
    public TimeProvider Time { get; } = time ?? throw new ArgumentNullException(nameof(time));

    private long _version;

    /// <summary>Grows with every change (a created, stopped or deleted experiment, a recorded observation): a saver compares it.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>True when no experiment may route (the routing hook's fast path).</summary>
    public bool IsRoutingEmpty => _routingCount == 0;

    /// <summary>Starts an experiment. Throws <see cref="ArgumentException"/> for an invalid definition, <see cref="ExperimentConflictException"/> for a taken id or policy.</summary>
    public Experiment Create(ExperimentDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var experiment = new Experiment(definition, Time.GetUtcNow());
        experiment.ShareLooks(_looksShared);
        lock (_changeLock)
        {
            if (_experiments.ContainsKey((definition.TenantId, definition.Id)))
            {
                throw new ExperimentConflictException($"experiment '{definition.Id}' exists already");
            }
            if (_routing.TryGetValue((definition.TenantId, definition.PolicyId), out var other) && other.RoutesTraffic)
            {
                throw new ExperimentConflictException($"policy '{definition.PolicyId}' has a running experiment already ('{other.Definition.Id}')");
            }
            _experiments[(definition.TenantId, definition.Id)] = experiment;
            _routing[(definition.TenantId, definition.PolicyId)] = experiment;
            _routingCount = _routing.Count;
        }
        Interlocked.Increment(ref _version);
        Changed?.Invoke(definition.TenantId, definition.Id);
        return experiment;
    }

    /// <summary>From now on every experiment's looks are taken by the share, on every instance's figures (false: here again, as observations come).</summary>
    public void ShareLooks(bool shared = true)
    {
        _looksShared = shared;
        foreach (var experiment in _experiments.Values)
        {
            experiment.ShareLooks(shared);
        }
    }

    /// <summary>Every tenant's experiments.</summary>
    public IReadOnlyList<Experiment> All() => [.. _experiments.Values];

    /// <summary>
    /// An experiment as the shared record has it: added when unknown here, else its status,
    /// winner and looks taken over when they move it forward (<see cref="Experiment.Apply"/>);
    /// <paramref name="decidedHere"/>: the record holds this instance's own look. Does not raise <see cref="Changed"/>.
    /// </summary>
    public void ApplyRemote(ExperimentSnapshot snapshot, bool decidedHere = false)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var definition = snapshot.Definition;
        if (_experiments.TryGetValue((definition.TenantId, definition.Id), out var known))
        {
            ApplyVerdict(known, new(snapshot.Status, snapshot.Winner, snapshot.Looks, snapshot.LastThreshold, snapshot.EndedAt), decidedHere);
            return;
        }
        Restore([snapshot]);
        Interlocked.Increment(ref _version);
    }

    /// <summary>An experiment deleted on another control plane. Does not raise <see cref="Changed"/>.</summary>
    public void ApplyRemoteDelete(string tenantId, string id) => Forget(tenantId, id);

    /// <summary>
    /// Takes a look's verdict (decided here, on every instance's figures, or on another control
    /// plane). A promotion decided here is recorded (<see cref="IExperimentPromotions"/>), once for all.
    /// </summary>
    public void ApplyVerdict(Experiment experiment, ExperimentVerdict verdict, bool decidedHere)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(verdict);
        if (experiment.Apply(verdict))
        {
            Settle(experiment, promoted: null);
        }
        // Recorded by the one that decided it, even when the shared record's echo was applied first.
        if (decidedHere && verdict.Status == ExperimentStatus.Promoted)
        {
            promotions?.Promoted(experiment.Results());
        }
    }

    /// <summary>Every tenant's experiments, saved (<see cref="Experiment.Save"/>).</summary>
    public IReadOnlyList<ExperimentSnapshot> Save()
    {
        var saved = new List<ExperimentSnapshot>();
        foreach (var experiment in _experiments.Values)
        {
            saved.Add(experiment.Save());
        }
        saved.Sort(static (a, b) => a.CreatedAt.CompareTo(b.CreatedAt));
        return saved;
    }

    /// <summary>Puts saved experiments back (at start, before traffic); one whose id is taken already is skipped.</summary>
    public void Restore(IEnumerable<ExperimentSnapshot> snapshots)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        lock (_changeLock)
        {
            foreach (var snapshot in snapshots)
            {
                var experiment = new Experiment(snapshot);
                experiment.ShareLooks(_looksShared);
                var definition = experiment.Definition;
                if (!_experiments.TryAdd((definition.TenantId, definition.Id), experiment))
                {
                    continue;
                }
                if (experiment.RoutesTraffic && !(_routing.TryGetValue((definition.TenantId, definition.PolicyId), out var other) && other.RoutesTraffic))
                {
                    _routing[(definition.TenantId, definition.PolicyId)] = experiment;
                }
            }
            _routingCount = _routing.Count;
        }
    }

    /// <summary>The tenant's experiment with the id.</summary>
    public bool TryGet(string tenantId, string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Experiment? experiment)
        => _experiments.TryGetValue((tenantId, id), out experiment);

    /// <summary>The tenant's experiments, newest first.</summary>
    public IReadOnlyList<Experiment> List(string tenantId)
    {
        var list = new List<Experiment>();
        foreach (var (key, experiment) in _experiments)
        {
            if (key.Tenant == tenantId)
            {
                list.Add(experiment);
            }
        }
        list.Sort(static (a, b) => b.CreatedAt.CompareTo(a.CreatedAt) is var c and not 0 ? c : string.CompareOrdinal(a.Definition.Id, b.Definition.Id));
        return list;
    }

    /// <summary>
    /// The experiment that decides where requests of (tenant, policy) go, if one is running or
    /// promoted. Allocation-free.
    /// </summary>
    public bool TryGetRouting(string tenantId, string policyId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Experiment? experiment)
    {
        if (_routingCount != 0 && _routing.TryGetValue((tenantId, policyId), out experiment) && experiment.RoutesTraffic)
        {
            return true;
        }
        experiment = null;
        return false;
    }

    /// <summary>Stops the tenant's experiment (traffic returns to the policy; results are kept). False when unknown.</summary>
    public bool Stop(string tenantId, string id)
    {
        if (!_experiments.TryGetValue((tenantId, id), out var experiment))
        {
            return false;
        }
        experiment.Stop(Time.GetUtcNow());
        Unroute(experiment);
        Interlocked.Increment(ref _version);
        Changed?.Invoke(tenantId, id);
        return true;
    }

    /// <summary>Stops and forgets the tenant's experiment. False when unknown.</summary>
    public bool Delete(string tenantId, string id)
    {
        if (!Forget(tenantId, id))
        {
            return false;
        }
        Changed?.Invoke(tenantId, id);
        return true;
    }

    private bool Forget(string tenantId, string id)
    {
        if (!_experiments.TryRemove((tenantId, id), out var experiment))
        {
            return false;
        }
        experiment.Stop(Time.GetUtcNow());
        Unroute(experiment);
        Interlocked.Increment(ref _version);
        return true;
    }

    /// <summary>Records an execute of a request routed to <paramref name="arm"/>; promotes a winner when its look finds one.</summary>
    public void RecordExecution(Experiment experiment, int arm, bool failed, double latencyMs, long costNanos)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        Settle(experiment, experiment.RecordExecution(arm, failed, latencyMs, costNanos, Time.GetUtcNow()));
    }

    /// <summary>Records a feedback score of a request routed to <paramref name="arm"/>; promotes a winner when its look finds one.</summary>
    public void RecordQuality(Experiment experiment, int arm, double score)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        Settle(experiment, experiment.RecordQuality(arm, score, Time.GetUtcNow()));
    }

    /// <summary>Counts a request routed to <paramref name="arm"/> (a decide or an execute).</summary>
    public void RecordRequest(Experiment experiment, int arm)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        experiment.RecordRequest(arm);
        Interlocked.Increment(ref _version);
    }

    private void Settle(Experiment experiment, ExperimentResults? promoted)
    {
        Interlocked.Increment(ref _version);
        if (!experiment.RoutesTraffic)
        {
            Unroute(experiment);
        }
        if (promoted is not null)
        {
            promotions?.Promoted(promoted);
        }
    }

    private void Unroute(Experiment experiment)
    {
        lock (_changeLock)
        {
            var key = (experiment.Definition.TenantId, experiment.Definition.PolicyId);
            if (_routing.TryGetValue(key, out var current) && ReferenceEquals(current, experiment) && !experiment.RoutesTraffic)
            {
                _routing.TryRemove(key, out _);
                _routingCount = _routing.Count;
            }
        }
    }
}
