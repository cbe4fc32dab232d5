using System.Collections.Concurrent;
using Microsoft.Extensions.Primitives;

namespace Beamline.Tenancy.Quotas;

/// <summary>
/// Admits or refuses requests by the request limits of tenancy: <see cref="TenancyLimits.RequestsPerMinute"/>
/// (a sliding minute) and <see cref="TenancyLimits.MaxConcurrentRequests"/> (requests in flight).
/// Each level, the API key, its team and its tenant, counts its own usage against the limit set
/// on that level, so a tenant's limit caps all the tenant's keys together and a key's limit that
/// key alone.
/// </summary>
/// <remarks>
/// <para>
/// A reservation is all-or-nothing across the levels: the key is checked first, then the team,
/// then the tenant, and a refusal gives back what the levels before it took, so a request refused
/// at the tenant level uses none of its key's allowance. The hot path takes one tiny lock per
/// limited level and allocates nothing (a counter is created the first time a level is limited).
/// </para>
/// <para>
/// Counters are kept per level id and dropped when tenancy's snapshot no longer has that tenant,
/// team or key, so they are bounded by what tenancy holds. They are per process: several control
/// planes each enforce the limits on the traffic they see.
/// </para>
/// <para>
/// <see cref="TenancyLimits.TokensPerMinute"/>, <see cref="TenancyLimits.MonthlyBudgetUsd"/> and
/// <see cref="TenancyLimits.DailyBudgetUsd"/> are not enforced here but by the
/// <see cref="Budgets.BudgetGate"/>, which reserves a call's largest cost and tokens before the
/// provider is called and settles them to the actual ones after.
/// </para>
/// </remarks>
public sealed class QuotaGate : IDisposable
{
    private readonly ITenantDirectory _directory;
    private readonly TimeProvider _time;
    private readonly IQuotaCounters _factory;
    private readonly ConcurrentDictionary<QuotaKey, QuotaMeter> _counters = new();
    private readonly IDisposable _changes;

    /// <summary>
    /// Enforces the limits of <paramref name="directory"/>'s current snapshot, by <paramref name="time"/>'s
    /// clock, counting in <paramref name="counters"/> (in this process when null).
    /// </summary>
    public QuotaGate(ITenantDirectory directory, TimeProvider time, IQuotaCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(time);
        _factory = counters ?? InProcessQuotaCounters.Instance;
        _directory = directory;
        _time = time;
        _changes = ChangeToken.OnChange(directory.GetChangeToken, DropRemoved);
    }

    /// <summary>How many levels have counters (for tests and metrics).</summary>
    internal int CounterCount => _counters.Count;

    /// <summary>
    /// Reserves one request for an API key at the key, team and tenant levels (each by the limits
    /// set on it in the current snapshot). Dispose the lease when the request ends.
    /// </summary>
    public QuotaLease Enter(TenantPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var snapshot = _directory.Snapshot;
        var key = snapshot.Keys.TryGetValue(principal.KeyId, out var entry)
            ? new Level(QuotaLevel.Key, principal.TenantId, principal.KeyId, entry.Info.Limits)
            : default;
        Level team = default;
        Level tenant = default;
        if (snapshot.Tenants.TryGetValue(principal.TenantId, out var found))
        {
            tenant = new Level(QuotaLevel.Tenant, found.Id, found.Id, found.Limits);
            if (principal.TeamId is { } teamId && found.Teams.TryGetValue(teamId, out var foundTeam))
            {
                team = new Level(QuotaLevel.Team, found.Id, teamId, foundTeam.Limits);
            }
        }
        return Enter(key, team, tenant);
    }

    /// <summary>
    /// Reserves one request at the tenant level only (the trusted NATS bus, where requests carry a
    /// tenant id and no key). An unknown tenant is admitted: routing refuses it.
    /// </summary>
    public QuotaLease EnterTenant(string tenantId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return _directory.Snapshot.Tenants.TryGetValue(tenantId, out var found)
            ? Enter(default, default, new Level(QuotaLevel.Tenant, found.Id, found.Id, found.Limits))
            : default;
    }

    /// <summary>The counter of a level, when it has one (for tests).</summary>
    internal QuotaCounter? Find(QuotaLevel level, string tenantId, string id)
        => _counters.TryGetValue(new QuotaKey(level, tenantId, id), out var counter) ? counter as QuotaCounter : null;

    /// <inheritdoc />
    public void Dispose() => _changes.Dispose();

    private QuotaLease Enter(in Level key, in Level team, in Level tenant)
    {
        var second = _time.GetTimestamp() / _time.TimestampFrequency;
        if (!TryTake(key, second, out var keyHold, out var refusal))
        {
            return QuotaLease.Refuse(refusal);
        }
        if (!TryTake(team, second, out var teamHold, out refusal))
        {
            keyHold.Undo();
            return QuotaLease.Refuse(refusal);
        }
        if (!TryTake(tenant, second, out var tenantHold, out refusal))
        {
            teamHold.Undo();
            keyHold.Undo();
            return QuotaLease.Refuse(refusal);
        }
        return new QuotaLease(keyHold.Slot, teamHold.Slot, tenantHold.Slot);
    }

    private bool TryTake(in Level level, long second, out Hold hold, out QuotaRefusal refusal)
    {
        hold = default;
        refusal = default;
        if (level.Limits is not { } limits || (limits.RequestsPerMinute is null && limits.MaxConcurrentRequests is null))
        {
            return true;
        }
        var counter = Counter(new QuotaKey(level.Kind, level.TenantId, level.Id));
        var charged = 0L;
        if (limits.RequestsPerMinute is { } perMinute)
        {
            if (!counter.TryTake(second, perMinute, out charged, out var retryAfter))
            {
                refusal = new QuotaRefusal(level.Kind, level.TenantId, level.Id, QuotaLimit.RequestsPerMinute, perMinute, retryAfter);
                return false;
            }
        }
        if (limits.MaxConcurrentRequests is { } concurrent && !counter.TryEnter(concurrent))
        {
            if (limits.RequestsPerMinute is not null)
            {
                counter.Untake(charged);
            }
            refusal = new QuotaRefusal(level.Kind, level.TenantId, level.Id, QuotaLimit.MaxConcurrentRequests, concurrent, 1);
            return false;
        }
        hold = new Hold(counter, charged, limits.RequestsPerMinute is not null, limits.MaxConcurrentRequests is not null);
        return true;
    }

    private QuotaMeter Counter(QuotaKey key)
        => _counters.TryGetValue(key, out var counter) ? counter : _counters.GetOrAdd(key, static (k, factory) => factory.Create(k.Level, k.TenantId, k.Id), _factory);

    // A counter whose tenant, team or key is gone is dropped (a lease still holding it gives back
    // its slot to the dropped counter, which is harmless).
    private void DropRemoved()
    {
        var snapshot = _directory.Snapshot;
        foreach (var (key, _) in _counters)
        {
            if (!Exists(snapshot, key))
            {
                _counters.TryRemove(key, out _);
            }
        }
    }

    private static bool Exists(TenancySnapshot snapshot, QuotaKey key) => key.Level switch
    {
        QuotaLevel.Tenant => snapshot.Tenants.ContainsKey(key.TenantId),
        QuotaLevel.Team => snapshot.Tenants.TryGetValue(key.TenantId, out var tenant) && tenant.Teams.ContainsKey(key.Id),
        _ => snapshot.Keys.TryGetValue(key.Id, out var entry) && string.Equals(entry.Info.TenantId, key.TenantId, StringComparison.Ordinal),
    };

    /// <summary>A level to check: <see cref="Limits"/> null when the level does not apply.</summary>
    private readonly record struct Level(QuotaLevel Kind, string TenantId, string Id, TenancyLimits? Limits);

    /// <summary>What one level took: its rate charge and its in-flight slot.</summary>
    private readonly record struct Hold(QuotaMeter? Counter, long Charged, bool Rate, bool Concurrent)
    {
        public QuotaMeter? Slot => Concurrent ? Counter : null;

        public void Undo()
        {
            if (Rate)
            {
                Counter!.Untake(Charged);
            }
            if (Concurrent)
            {
                Counter!.Exit();
            }
        }
    }
}

/// <summary>A counter's identity: team ids are unique within their tenant, key ids across tenants.</summary>
internal readonly record struct QuotaKey(QuotaLevel Level, string TenantId, string Id);
