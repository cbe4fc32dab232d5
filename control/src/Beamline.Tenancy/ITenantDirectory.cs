using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Primitives;

namespace Beamline.Tenancy;

/// <summary>
/// What the request path asks of tenancy: who a key is, a tenant's settings and policies, the
/// providers. Every member reads the current immutable snapshot: no locks, no I/O.
/// </summary>
public interface ITenantDirectory
{
    /// <summary>The current snapshot; hold on to it for a consistent view across several reads.</summary>
    TenancySnapshot Snapshot { get; }

    /// <summary>The provider entries (raw JSON), ordered by id.</summary>
    ImmutableArray<ProviderEntry> Providers { get; }

    /// <summary>
    /// Resolves an API key (<c>bl_&lt;key-id&gt;_&lt;secret&gt;</c>) to its principal. False for a
    /// malformed, unknown, wrong, revoked or expired key; never throws. Allocation-free.
    /// </summary>
    bool TryAuthenticate(ReadOnlySpan<char> apiKey, [MaybeNullWhen(false)] out TenantPrincipal principal);

    /// <summary>As <see cref="TryAuthenticate"/>, saying why a key was refused (for logs and metrics, not for clients).</summary>
    ApiKeyStatus Authenticate(ReadOnlySpan<char> apiKey, out TenantPrincipal? principal);

    /// <summary>A tenant by id.</summary>
    bool TryGetTenant(string tenantId, [MaybeNullWhen(false)] out TenantSnapshot tenant);

    /// <summary>The raw JSON of a policy owned by <paramref name="tenantId"/>; another tenant's policy is never found.</summary>
    bool TryGetPolicyJson(string tenantId, string policyId, [MaybeNullWhen(false)] out string json);

    /// <summary>
    /// A token that fires once the snapshot has been replaced (use with
    /// <see cref="ChangeToken.OnChange(Func{IChangeToken?}, Action)"/>); compare
    /// <see cref="TenancySnapshot.RoutingVersion"/> to skip rebuilds that routing does not need.
    /// </summary>
    IChangeToken GetChangeToken();
}

/// <summary>The outcome of authenticating an API key.</summary>
public enum ApiKeyStatus
{
    /// <summary>The key is valid; the principal is set.</summary>
    Authenticated,

    /// <summary>Not of the form <c>bl_&lt;key-id&gt;_&lt;secret&gt;</c>.</summary>
    Malformed,

    /// <summary>No key has this id.</summary>
    UnknownKey,

    /// <summary>The key id exists but the secret does not match.</summary>
    WrongSecret,

    /// <summary>The key was revoked.</summary>
    Revoked,

    /// <summary>The key has expired.</summary>
    Expired,
}
