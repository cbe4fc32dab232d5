using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Beamline.Tenancy.Budgets;

/// <summary>
/// Enforces the budgets of tenancy: <see cref="TenancyLimits.MonthlyBudgetUsd"/>,
/// <see cref="TenancyLimits.DailyBudgetUsd"/> (UTC calendar month and day) and
/// <see cref="TenancyLimits.TokensPerMinute"/> (a sliding minute). Each level, the API key, its
/// team and its tenant, counts its own usage against the limits set on that level, as the
/// <see cref="Quotas.QuotaGate"/> does for requests.
/// </summary>
/// <remarks>
/// <para>
/// Before a provider call, <see cref="Reserve"/> takes the call's largest cost and token count at
/// every level or at none; after it, <see cref="Settle"/> replaces them by the actual ones, or
/// <see cref="Release"/> gives them back when the call failed. A level refuses once what it has
/// committed (spent plus reserved) has reached its limit, so under any concurrency a budget is
/// overshot by at most the last reservation granted (plus whatever a call cost beyond what it
/// reserved). <see cref="Check"/> refuses a level whose month or day is already spent, reserving
/// nothing (decide).
/// </para>
/// <para>
/// Usage lives in <see cref="IBudgetCounters"/> (in this process by default). The caller's levels
/// are resolved from the tenancy snapshot once per caller and snapshot, and cached, so that the
/// hot path allocates nothing; counters of levels that leave the snapshot are dropped. A month's
/// spend survives a restart only through <see cref="Seed"/>.
/// </para>
/// <para>
/// Alerts: when a settle takes a level's settled spend for the month or day across one of
/// <see cref="BudgetOptions.AlertThresholds"/>, a <see cref="BudgetThresholdCrossed"/> goes to the
/// <see cref="IBudgetAlertSink"/>, once per level, budget, period and threshold in this process.
/// Only settled spend counts: a reservation is a worst case that mostly does not happen, and an
/// alert for it could not be taken back.
/// </para>
/// </remarks>
public sealed partial class BudgetGate : IDisposable
{
    private readonly ITenantDirectory _directory;
    private readonly IBudgetCounters _counters;
    private readonly TimeProvider _time;
    private readonly IBudgetAlertSink _alerts;
    private readonly ILogger<BudgetGate> _logger;
    private readonly int[] _thresholds;
    private readonly ConcurrentDictionary<CallerKey, BudgetLevels> _callers = new();
    private readonly ConcurrentDictionary<AlertKey, byte> _fired = new();
    private readonly IDisposable _changes;
    private int _prunedDay;
    private readonly ISpendHistory? _history;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<BudgetCounterKey, byte> _seeded = new();

    /// <summary>Enforces the budgets of <paramref name="directory"/>'s current snapshot, counting in <paramref name="counters"/> by <paramref name="time"/>'s clock.</summary>
    /// <remarks>With <paramref name="history"/>, a level is seeded with what it spent this month and today the first time it has a budget to enforce.</remarks>
    public BudgetGate(ITenantDirectory directory, IBudgetCounters counters, TimeProvider time, IOptions<BudgetOptions> options,
        IBudgetAlertSink alerts, ILogger<BudgetGate> logger, ISpendHistory? history = null)
    {
        _history = history;
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(alerts);
        ArgumentNullException.ThrowIfNull(logger);
        _directory = directory;
        _counters = counters;
        _time = time;
        _alerts = alerts;
        _logger = logger;
        _thresholds = options.Value.ResolvedAlertThresholds;
        _changes = ChangeToken.OnChange(directory.GetChangeToken, OnSnapshotChanged);
    }

    /// <summary>Whether any of the caller's levels has a budget or a tokens-per-minute limit (else reserving holds nothing).</summary>
    public bool IsLimited(string tenantId, string? teamId, string? keyId) => Levels(tenantId, teamId, keyId).Charges.Length != 0;

    /// <summary>
    /// Whether the caller may start a request: null, or the first level (key, team, tenant) whose
    /// month or day is already spent. Reserves nothing.
    /// </summary>
    public BudgetDenial? Check(string tenantId, string? teamId, string? keyId)
    {
        var levels = Levels(tenantId, teamId, keyId);
        if (levels.Charges.Length == 0 || _counters.Check(levels.Charges, Now(), out var shortfall))
        {
            return null;
        }
        return levels.Deny(shortfall);
    }

    /// <summary>
    /// Reserves <paramref name="costNanos"/> and <paramref name="tokens"/> (a call's largest cost
    /// and token count) at the caller's key, team and tenant levels, or at none. Settle or release
    /// a granted grant exactly once.
    /// </summary>
    public BudgetGrant Reserve(string tenantId, string? teamId, string? keyId, long costNanos, long tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var levels = Levels(tenantId, teamId, keyId);
        if (levels.Charges.Length == 0)
        {
            return new BudgetGrant(null, costNanos, tokens);
        }
        return _counters.TryReserve(levels.Charges, Now(), costNanos, tokens, out var shortfall)
            ? new BudgetGrant(levels, costNanos, tokens)
            : BudgetGrant.Refuse(levels.Deny(shortfall));
    }

    /// <summary>Turns a granted reservation into spend: the call's actual cost and tokens replace what was reserved.</summary>
    public void Settle(in BudgetGrant grant, long costNanos, long tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (LevelsOf(grant) is not { } levels)
        {
            return;
        }
        var now = Now();
        Span<BudgetSpendChange> changes = stackalloc BudgetSpendChange[3];
        changes = changes[..levels.Charges.Length];
        _counters.Settle(levels.Charges, now, grant.CostNanos, grant.Tokens, costNanos, tokens, changes);
        if (costNanos > 0 && _thresholds.Length > 0)
        {
            RaiseCrossings(levels, now, changes);
        }
    }

    /// <summary>Gives a granted reservation back (the call failed or was never made).</summary>
    public void Release(in BudgetGrant grant)
    {
        if (LevelsOf(grant) is { } levels)
        {
            _counters.Release(levels.Charges, Now(), grant.CostNanos, grant.Tokens);
        }
    }

    /// <summary>
    /// Sets a level's spend of the current UTC month and day to what was recorded before this
    /// process started (the usage ledger's month-to-date and day-to-date sums), so that a restart
    /// does not hand out a budget again. Call it at start for every level with spend this month;
    /// when this process has already counted more, that is kept. Raises no alert.
    /// </summary>
    public void Seed(BudgetLevel level, string tenantId, string id, long monthSpentNanos, long daySpentNanos)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentOutOfRangeException.ThrowIfNegative(monthSpentNanos);
        ArgumentOutOfRangeException.ThrowIfNegative(daySpentNanos);
        _counters.Seed(new BudgetCounterKey(level, tenantId, id), Now(), monthSpentNanos, daySpentNanos);
    }

    /// <summary>A level's usage now (zero for a level without budgets or not counted yet).</summary>
    public BudgetUsage Read(BudgetLevel level, string tenantId, string id)
        => _counters.Read(new BudgetCounterKey(level, tenantId, id), Now());

    /// <inheritdoc />
    public void Dispose() => _changes.Dispose();

    private BudgetClock Now() => BudgetClock.From(_time.GetUtcNow());

    private static BudgetLevels? LevelsOf(in BudgetGrant grant) => grant.State switch
    {
        null => null,
        BudgetLevels levels => levels,
        _ => throw new ArgumentException("The grant was not made by a BudgetGate.", nameof(grant)),
    };

    private BudgetLevels Levels(string tenantId, string? teamId, string? keyId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var snapshot = _directory.Snapshot;
        var caller = new CallerKey(tenantId, teamId, keyId);
        if (_callers.TryGetValue(caller, out var levels) && levels.Version == snapshot.Version)
        {
            return levels;
        }
        return Resolve(snapshot, caller);
    }

    // Each level by the limits set on that level itself; only levels with a budget are counted.
    // Only callers whose tenant, team and key all exist are cached, so the cache is bounded by tenancy.
    private BudgetLevels Resolve(TenancySnapshot snapshot, CallerKey caller)
    {
        if (!snapshot.Tenants.TryGetValue(caller.TenantId, out var tenant))
        {
            return BudgetLevels.None;
        }
        var known = true;
        var charges = new List<BudgetCharge>(3);
        if (caller.KeyId is { } keyId)
        {
            if (snapshot.Keys.TryGetValue(keyId, out var entry) && string.Equals(entry.Info.TenantId, tenant.Id, StringComparison.Ordinal))
            {
                Add(charges, BudgetLevel.Key, tenant.Id, keyId, entry.Info.Limits);
            }
            else
            {
                known = false;
            }
        }
        if (caller.TeamId is { } teamId)
        {
            if (tenant.Teams.TryGetValue(teamId, out var team))
            {
                Add(charges, BudgetLevel.Team, tenant.Id, teamId, team.Limits);
            }
            else
            {
                known = false;
            }
        }
        Add(charges, BudgetLevel.Tenant, tenant.Id, tenant.Id, tenant.Limits);
        var levels = new BudgetLevels(snapshot.Version, [.. charges]);
        if (known)
        {
            _callers[caller] = levels;
        }
        return levels;
    }

    private void Add(List<BudgetCharge> charges, BudgetLevel level, string tenantId, string id, TenancyLimits limits)
    {
        var budgets = BudgetLimits.Of(limits);
        if (budgets.Any)
        {
            var key = new BudgetCounterKey(level, tenantId, id);
            var counter = _counters.Open(key);
            if (_history is not null && _seeded.TryAdd(key, 0))
            {
                // Once per level per process (not on the hot path: levels are resolved once per snapshot).
                var (month, day) = _history.SpentSoFar(level, tenantId, id, _time.GetUtcNow());
                if (month > 0 || day > 0)
                {
                    Seed(level, tenantId, id, month, day);
                }
            }
            charges.Add(new BudgetCharge(counter, budgets));
        }
    }

    private void OnSnapshotChanged()
    {
        var snapshot = _directory.Snapshot;
        _callers.Clear();
        _counters.Retain(key => Exists(snapshot, key));
    }

    private static bool Exists(TenancySnapshot snapshot, BudgetCounterKey key) => key.Level switch
    {
        BudgetLevel.Tenant => snapshot.Tenants.ContainsKey(key.TenantId),
        BudgetLevel.Team => snapshot.Tenants.TryGetValue(key.TenantId, out var tenant) && tenant.Teams.ContainsKey(key.Id),
        _ => snapshot.Keys.TryGetValue(key.Id, out var entry) && string.Equals(entry.Info.TenantId, key.TenantId, StringComparison.Ordinal),
    };

    /// <summary>Who is calling: the cache key of their levels.</summary>
    private readonly record struct CallerKey(string TenantId, string? TeamId, string? KeyId);

    /// <summary>The levels of one caller with a budget, as of one snapshot (a grant's <see cref="BudgetGrant.State"/>).</summary>
    private sealed class BudgetLevels(long version, BudgetCharge[] charges)
    {
        public static BudgetLevels None { get; } = new(-1, []);

        public long Version { get; } = version;

        public BudgetCharge[] Charges { get; } = charges;

        public BudgetDenial Deny(in BudgetShortfall shortfall)
        {
            var key = Charges[shortfall.Index].Counter.Key;
            return new BudgetDenial(key.Level, key.TenantId, key.Id, shortfall);
        }
    }
}
