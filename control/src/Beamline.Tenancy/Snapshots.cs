using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Beamline.Tenancy;

/// <summary>A tenant as of one snapshot: its teams, its policies and its settings.</summary>
public sealed record TenantSnapshot
{
    /// <summary>The tenant id (CP1 <c>tenant_id</c>).</summary>
    public required string Id { get; init; }

    /// <summary>A display name. Optional.</summary>
    public string? Name { get; init; }

    /// <summary>The policy used when a request names none. Optional.</summary>
    public string? DefaultPolicyId { get; init; }

    /// <summary>The tenant's limits; the tenant is the top level, so these are also its effective limits.</summary>
    public TenancyLimits Limits { get; init; } = TenancyLimits.None;

    /// <summary>The tenant's teams by id.</summary>
    public FrozenDictionary<string, TeamSnapshot> Teams { get; init; } = FrozenDictionary<string, TeamSnapshot>.Empty;

    /// <summary>The tenant's policy documents (raw JSON text) by policy id.</summary>
    public FrozenDictionary<string, string> Policies { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>Where the tenant was defined: "config" (the configuration file) or "admin" (the admin API).</summary>
    public string Source { get; init; } = TenancySources.Admin;

    /// <summary>When the tenant was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the tenant's own settings last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The raw JSON of one of this tenant's policies.</summary>
    public bool TryGetPolicyJson(string policyId, [MaybeNullWhen(false)] out string json)
        => Policies.TryGetValue(policyId, out json);
}

/// <summary>A team of a tenant.</summary>
public sealed record TeamSnapshot
{
    /// <summary>The team id, unique within its tenant.</summary>
    public required string Id { get; init; }

    /// <summary>The tenant the team belongs to.</summary>
    public required string TenantId { get; init; }

    /// <summary>A display name. Optional.</summary>
    public string? Name { get; init; }

    /// <summary>The limits set on the team itself (unset members inherit).</summary>
    public TenancyLimits Limits { get; init; } = TenancyLimits.None;

    /// <summary>The team's limits after inheritance from the tenant.</summary>
    public TenancyLimits EffectiveLimits { get; init; } = TenancyLimits.None;

    /// <summary>"config" or "admin".</summary>
    public string Source { get; init; } = TenancySources.Admin;

    /// <summary>When the team was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the team last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>An API key's metadata: never its secret nor its hash.</summary>
public sealed record ApiKeyInfo
{
    /// <summary>The public key id (the middle part of <c>bl_&lt;key-id&gt;_&lt;secret&gt;</c>).</summary>
    public required string KeyId { get; init; }

    /// <summary>The tenant the key acts for.</summary>
    public required string TenantId { get; init; }

    /// <summary>The team the key belongs to, or null for a tenant-wide key.</summary>
    public string? TeamId { get; init; }

    /// <summary>A display name. Optional.</summary>
    public string? Name { get; init; }

    /// <summary>The limits set on the key itself (unset members inherit).</summary>
    public TenancyLimits Limits { get; init; } = TenancyLimits.None;

    /// <summary>The key's limits after inheritance from its team and tenant.</summary>
    public TenancyLimits EffectiveLimits { get; init; } = TenancyLimits.None;

    /// <summary>When the key was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the key stops authenticating; null for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the key was revoked; null while it is not.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>"config" or "admin".</summary>
    public string Source { get; init; } = TenancySources.Admin;

    /// <summary>"active", "revoked" or "expired" at <paramref name="now"/>.</summary>
    public string StatusAt(DateTimeOffset now)
        => RevokedAt is not null ? "revoked" : ExpiresAt is { } expires && now >= expires ? "expired" : "active";
}

/// <summary>A provider entry, kept as the raw JSON object that routing parses.</summary>
/// <param name="Id">The provider id.</param>
/// <param name="Json">The entry's JSON object (id, kind, model, prices, tags, ...), as given.</param>
public sealed record ProviderEntry(string Id, string Json);

/// <summary>Who a request acts for, as resolved from its API key.</summary>
/// <remarks>One instance per key per snapshot: authenticating returns it without allocating.</remarks>
public sealed record TenantPrincipal
{
    /// <summary>The tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The team, or null for a tenant-wide key.</summary>
    public string? TeamId { get; init; }

    /// <summary>The API key's id.</summary>
    public required string KeyId { get; init; }

    /// <summary>The key's effective limits (key → team → tenant, computed once per snapshot).</summary>
    public required TenancyLimits Limits { get; init; }

    /// <summary>The tenant's default policy, or null when it has none.</summary>
    public string? DefaultPolicyId { get; init; }
}

/// <summary>The values of <c>Source</c>: where an entry was defined.</summary>
public static class TenancySources
{
    /// <summary>The configuration file; re-applied at every start.</summary>
    public const string Config = "config";

    /// <summary>The admin API.</summary>
    public const string Admin = "admin";
}
