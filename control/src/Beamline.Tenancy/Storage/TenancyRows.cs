namespace Beamline.Tenancy.Storage;

internal sealed record TenantRow(string Id, string? Name, string? DefaultPolicyId, string LimitsJson, string Source, long CreatedAt, long UpdatedAt);

internal sealed record TeamRow(string TenantId, string Id, string? Name, string LimitsJson, string Source, long CreatedAt, long UpdatedAt);

internal sealed record KeyRow(string Id, string TenantId, string? TeamId, string? Name, byte[] Hash, string LimitsJson, string Source, long CreatedAt, long? ExpiresAt, long? RevokedAt);

internal sealed record PolicyRow(string TenantId, string Id, string Json);

internal sealed record ProviderRow(string Id, string Json);

/// <summary>Everything in the database, read in one transaction.</summary>
internal sealed record TenancyRows(
    IReadOnlyList<TenantRow> Tenants,
    IReadOnlyList<TeamRow> Teams,
    IReadOnlyList<KeyRow> Keys,
    IReadOnlyList<PolicyRow> Policies,
    IReadOnlyList<ProviderRow> Providers);
