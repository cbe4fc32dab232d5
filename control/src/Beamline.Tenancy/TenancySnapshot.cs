using System.Collections.Frozen;
using System.Collections.Immutable;
using Beamline.Tenancy.ApiKeys;
using Beamline.Tenancy.Internal;
using Beamline.Tenancy.Storage;

namespace Beamline.Tenancy;

/// <summary>
/// Everything tenancy knows at one moment, immutable. A change builds a new snapshot and swaps
/// it in atomically; readers take the current one without locking and keep a consistent view.
/// </summary>
public sealed class TenancySnapshot
{
    private static readonly FrozenDictionary<string, ImmutableArray<ApiKeyInfo>> NoKeysByTenant
        = FrozenDictionary<string, ImmutableArray<ApiKeyInfo>>.Empty;

    private TenancySnapshot(
        long version,
        long routingVersion,
        FrozenDictionary<string, TenantSnapshot> tenants,
        ImmutableArray<ProviderEntry> providers,
        FrozenDictionary<string, KeyEntry> keys,
        FrozenDictionary<string, ImmutableArray<ApiKeyInfo>> keysByTenant,
        ApiKeyHasher? hasher)
    {
        Version = version;
        RoutingVersion = routingVersion;
        Tenants = tenants;
        Providers = providers;
        ProvidersById = providers.ToFrozenDictionary(p => p.Id, StringComparer.Ordinal);
        Keys = keys;
        KeysBySpan = keys.GetAlternateLookup<ReadOnlySpan<char>>();
        KeysByTenant = keysByTenant;
        Hasher = hasher;
    }

    /// <summary>Before the database has been read: no tenants, no keys.</summary>
    public static TenancySnapshot Empty { get; } = new(0, 0, FrozenDictionary<string, TenantSnapshot>.Empty, [],
        FrozenDictionary<string, KeyEntry>.Empty, NoKeysByTenant, hasher: null);

    /// <summary>Increases with every change.</summary>
    public long Version { get; }

    /// <summary>
    /// Increases only when something routing depends on changed: a policy, a provider, a
    /// tenant's default policy, or a tenant itself.
    /// </summary>
    public long RoutingVersion { get; }

    /// <summary>Tenants by id.</summary>
    public FrozenDictionary<string, TenantSnapshot> Tenants { get; }

    /// <summary>Provider entries (raw JSON), ordered by id.</summary>
    public ImmutableArray<ProviderEntry> Providers { get; }

    /// <summary>Provider entries by id.</summary>
    public FrozenDictionary<string, ProviderEntry> ProvidersById { get; }

    internal FrozenDictionary<string, KeyEntry> Keys { get; }

    internal FrozenDictionary<string, KeyEntry>.AlternateLookup<ReadOnlySpan<char>> KeysBySpan { get; }

    internal FrozenDictionary<string, ImmutableArray<ApiKeyInfo>> KeysByTenant { get; }

    internal ApiKeyHasher? Hasher { get; }

    /// <summary>The keys of one tenant (metadata only), ordered by id.</summary>
    public ImmutableArray<ApiKeyInfo> KeysOf(string tenantId)
        => KeysByTenant.TryGetValue(tenantId, out var keys) ? keys : [];

    /// <summary>
    /// Builds a snapshot from the database rows: the effective limits of every team and key are
    /// computed here, once, so that authentication only looks them up.
    /// </summary>
    internal static TenancySnapshot Build(TenancyRows rows, ApiKeyHasher hasher, long version, long routingVersion)
    {
        var policiesByTenant = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var policy in rows.Policies)
        {
            if (!policiesByTenant.TryGetValue(policy.TenantId, out var policies))
            {
                policiesByTenant[policy.TenantId] = policies = new(StringComparer.Ordinal);
            }
            policies[policy.Id] = policy.Json;
        }
        var tenantLimits = new Dictionary<string, TenancyLimits>(StringComparer.Ordinal);
        foreach (var tenant in rows.Tenants)
        {
            tenantLimits[tenant.Id] = TenancyJson.LimitsFromJson(tenant.LimitsJson);
        }
        var teamsByTenant = new Dictionary<string, Dictionary<string, TeamSnapshot>>(StringComparer.Ordinal);
        foreach (var row in rows.Teams)
        {
            if (!tenantLimits.TryGetValue(row.TenantId, out var parent))
            {
                continue;
            }
            var limits = TenancyJson.LimitsFromJson(row.LimitsJson);
            if (!teamsByTenant.TryGetValue(row.TenantId, out var teams))
            {
                teamsByTenant[row.TenantId] = teams = new(StringComparer.Ordinal);
            }
            teams[row.Id] = new TeamSnapshot
            {
                Id = row.Id,
                TenantId = row.TenantId,
                Name = row.Name,
                Limits = limits,
                EffectiveLimits = limits.Narrow(parent),
                Source = row.Source,
                CreatedAt = FromUnix(row.CreatedAt),
                UpdatedAt = FromUnix(row.UpdatedAt),
            };
        }
        var tenants = new Dictionary<string, TenantSnapshot>(StringComparer.Ordinal);
        foreach (var row in rows.Tenants)
        {
            tenants[row.Id] = new TenantSnapshot
            {
                Id = row.Id,
                Name = row.Name,
                DefaultPolicyId = row.DefaultPolicyId,
                Limits = tenantLimits[row.Id],
                Teams = teamsByTenant.TryGetValue(row.Id, out var teams)
                    ? teams.ToFrozenDictionary(StringComparer.Ordinal)
                    : FrozenDictionary<string, TeamSnapshot>.Empty,
                Policies = policiesByTenant.TryGetValue(row.Id, out var policies)
                    ? policies.ToFrozenDictionary(StringComparer.Ordinal)
                    : FrozenDictionary<string, string>.Empty,
                Source = row.Source,
                CreatedAt = FromUnix(row.CreatedAt),
                UpdatedAt = FromUnix(row.UpdatedAt),
            };
        }
        var keys = new Dictionary<string, KeyEntry>(StringComparer.Ordinal);
        var keysByTenant = new Dictionary<string, ImmutableArray<ApiKeyInfo>.Builder>(StringComparer.Ordinal);
        foreach (var row in rows.Keys)
        {
            if (!tenants.TryGetValue(row.TenantId, out var tenant))
            {
                continue;
            }
            var parent = tenant.Limits;
            if (row.TeamId is { } teamId)
            {
                if (!tenant.Teams.TryGetValue(teamId, out var team))
                {
                    continue;
                }
                parent = team.EffectiveLimits;
            }
            var limits = TenancyJson.LimitsFromJson(row.LimitsJson);
            var info = new ApiKeyInfo
            {
                KeyId = row.Id,
                TenantId = row.TenantId,
                TeamId = row.TeamId,
                Name = row.Name,
                Limits = limits,
                EffectiveLimits = limits.Narrow(parent),
                CreatedAt = FromUnix(row.CreatedAt),
                ExpiresAt = row.ExpiresAt is { } expires ? FromUnix(expires) : null,
                RevokedAt = row.RevokedAt is { } revoked ? FromUnix(revoked) : null,
                Source = row.Source,
            };
            var principal = new TenantPrincipal
            {
                TenantId = row.TenantId,
                TeamId = row.TeamId,
                KeyId = row.Id,
                Limits = info.EffectiveLimits,
                DefaultPolicyId = tenant.DefaultPolicyId,
            };
            keys[row.Id] = new KeyEntry(info, row.Hash, principal);
            if (!keysByTenant.TryGetValue(row.TenantId, out var list))
            {
                keysByTenant[row.TenantId] = list = ImmutableArray.CreateBuilder<ApiKeyInfo>();
            }
            list.Add(info);
        }
        var providers = ImmutableArray.CreateBuilder<ProviderEntry>(rows.Providers.Count);
        foreach (var row in rows.Providers)
        {
            providers.Add(new ProviderEntry(row.Id, row.Json));
        }
        return new TenancySnapshot(
            version,
            routingVersion,
            tenants.ToFrozenDictionary(StringComparer.Ordinal),
            providers.MoveToImmutable(),
            keys.ToFrozenDictionary(StringComparer.Ordinal),
            keysByTenant.ToFrozenDictionary(p => p.Key, p => p.Value.ToImmutable(), StringComparer.Ordinal),
            hasher);
    }

    internal static DateTimeOffset FromUnix(long milliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
}

/// <summary>One API key as authentication needs it: its hash and the principal it resolves to.</summary>
internal sealed record KeyEntry(ApiKeyInfo Info, byte[] Hash, TenantPrincipal Principal);
