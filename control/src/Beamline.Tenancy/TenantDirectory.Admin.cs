using System.Text.Json;
using Beamline.Tenancy.ApiKeys;
using Beamline.Tenancy.Configuration;
using Beamline.Tenancy.Internal;
using Beamline.Tenancy.Replication;
using Beamline.Tenancy.Storage;

namespace Beamline.Tenancy;

// Changes (the admin API calls these). Each one is checked against the current snapshot, written
// to the database and followed by a rebuilt snapshot, all under one lock, so changes apply in order.
public sealed partial class TenantDirectory
{
    /// <summary>Creates a tenant.</summary>
    /// <exception cref="TenancyException">The id is malformed or taken.</exception>
    public Task<TenantSnapshot> CreateTenantAsync(string tenantId, string? name, string? defaultPolicyId, TenancyLimits limits, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            TenancyJson.CheckId(tenantId, "id");
            CheckOptionalId(defaultPolicyId, "default_policy");
            var now = NowMs();
            await _store.InsertTenantAsync(new TenantRow(tenantId, name, defaultPolicyId, TenancyJson.LimitsToJson(limits), TenancySources.Admin, now, now),
                cancellationToken).ConfigureAwait(false);
            LogAdminChange("created", "tenant", tenantId);
        }, () => Snapshot.Tenants[tenantId], cancellationToken);

    /// <summary>Replaces a tenant's name, default policy and limits.</summary>
    public Task<TenantSnapshot> UpdateTenantAsync(string tenantId, string? name, string? defaultPolicyId, TenancyLimits limits, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            CheckOptionalId(defaultPolicyId, "default_policy");
            var existing = RequireTenant(tenantId);
            await _store.UpdateTenantAsync(new TenantRow(tenantId, name, defaultPolicyId, TenancyJson.LimitsToJson(limits), existing.Source, existing.CreatedAt.ToUnixTimeMilliseconds(), NowMs()),
                cancellationToken).ConfigureAwait(false);
            LogAdminChange("updated", "tenant", tenantId);
        }, () => Snapshot.Tenants[tenantId], cancellationToken);

    /// <summary>Deletes a tenant with its teams, keys and policies.</summary>
    public Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            RequireTenant(tenantId);
            await _store.DeleteTenantAsync(tenantId, cancellationToken).ConfigureAwait(false);
            LogAdminChange("deleted", "tenant", tenantId);
        }, () => true, cancellationToken);

    /// <summary>Creates a team in a tenant.</summary>
    public Task<TeamSnapshot> CreateTeamAsync(string tenantId, string teamId, string? name, TenancyLimits limits, CancellationToken cancellationToken)
        => ChangeAsync(routing: false, async () =>
        {
            TenancyJson.CheckId(teamId, "id");
            RequireTenant(tenantId);
            var now = NowMs();
            await _store.InsertTeamAsync(new TeamRow(tenantId, teamId, name, TenancyJson.LimitsToJson(limits), TenancySources.Admin, now, now),
                cancellationToken).ConfigureAwait(false);
            LogAdminChange("created", "team", teamId);
        }, () => Snapshot.Tenants[tenantId].Teams[teamId], cancellationToken);

    /// <summary>Replaces a team's name and limits.</summary>
    public Task<TeamSnapshot> UpdateTeamAsync(string tenantId, string teamId, string? name, TenancyLimits limits, CancellationToken cancellationToken)
        => ChangeAsync(routing: false, async () =>
        {
            var existing = RequireTeam(tenantId, teamId);
            await _store.UpdateTeamAsync(new TeamRow(tenantId, teamId, name, TenancyJson.LimitsToJson(limits), existing.Source, existing.CreatedAt.ToUnixTimeMilliseconds(), NowMs()),
                cancellationToken).ConfigureAwait(false);
            LogAdminChange("updated", "team", teamId);
        }, () => Snapshot.Tenants[tenantId].Teams[teamId], cancellationToken);

    /// <summary>Deletes a team and its keys.</summary>
    public Task DeleteTeamAsync(string tenantId, string teamId, CancellationToken cancellationToken)
        => ChangeAsync(routing: false, async () =>
        {
            RequireTeam(tenantId, teamId);
            await _store.DeleteTeamAsync(tenantId, teamId, cancellationToken).ConfigureAwait(false);
            LogAdminChange("deleted", "team", teamId);
        }, () => true, cancellationToken);

    /// <summary>
    /// Creates an API key. The returned <see cref="CreatedApiKey.Key"/> is the only time the
    /// whole key exists outside the client: only its hash is stored.
    /// </summary>
    public async Task<CreatedApiKey> CreateKeyAsync(string tenantId, string? teamId, string? name, DateTimeOffset? expiresAt, TenancyLimits limits, CancellationToken cancellationToken)
    {
        string? key = null;
        var info = await ChangeAsync(routing: false, async () =>
        {
            RequireTenant(tenantId);
            if (teamId is not null)
            {
                RequireTeam(tenantId, teamId);
            }
            if (expiresAt is { } expires && expires <= _time.GetUtcNow())
            {
                throw TenancyException.Invalid("expires_at", "must be in the future");
            }
            var keyId = ApiKeyFormat.NewKeyId();
            key = ApiKeyFormat.Create(keyId);
            var hash = new byte[ApiKeyHasher.HashSize];
            _hasher!.TryHash(key, hash);
            await _store.InsertKeyAsync(new KeyRow(keyId, tenantId, teamId, name, hash, TenancyJson.LimitsToJson(limits), TenancySources.Admin,
                NowMs(), expiresAt?.ToUnixTimeMilliseconds(), null), cancellationToken).ConfigureAwait(false);
            LogAdminChange("created", "key", keyId);
            return keyId;
        }, keyId => Snapshot.Keys[keyId].Info, cancellationToken).ConfigureAwait(false);
        return new CreatedApiKey(info, key!);
    }

    /// <summary>A key of the tenant (metadata only).</summary>
    public bool TryGetKey(string tenantId, string keyId, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out ApiKeyInfo key)
    {
        if (Snapshot.Keys.TryGetValue(keyId, out var entry) && entry.Info.TenantId == tenantId)
        {
            key = entry.Info;
            return true;
        }
        key = null;
        return false;
    }

    /// <summary>Revokes a key of the tenant; it stops authenticating as soon as this returns.</summary>
    public Task<ApiKeyInfo> RevokeKeyAsync(string tenantId, string keyId, CancellationToken cancellationToken)
        => ChangeAsync(routing: false, async () =>
        {
            RequireTenant(tenantId);
            if (!TryGetKey(tenantId, keyId, out _))
            {
                throw TenancyException.NotFound(TenancyErrorCodes.KeyNotFound, "key", keyId);
            }
            await _store.RevokeKeyAsync(tenantId, keyId, NowMs(), cancellationToken).ConfigureAwait(false);
            LogAdminChange("revoked", "key", keyId);
        }, () => Snapshot.Keys[keyId].Info, cancellationToken);

    /// <summary>Creates or replaces a tenant's policy; <paramref name="policyJson"/> must pass the <see cref="IPolicyValidator"/>.</summary>
    public Task PutPolicyAsync(string tenantId, string policyId, string policyJson, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            TenancyJson.CheckId(policyId, "policy_id");
            RequireTenant(tenantId);
            var json = ParseDocument(policyJson, document => TenancyDefinitionsReader.ReadPolicy(document, "body", tenantId, policyId, _policyValidator));
            await _store.PutPolicyAsync(tenantId, policyId, json, NowMs(), cancellationToken).ConfigureAwait(false);
            LogAdminChange("stored", "policy", policyId);
        }, () => true, cancellationToken);

    /// <summary>Deletes a tenant's policy.</summary>
    public Task DeletePolicyAsync(string tenantId, string policyId, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            var tenant = RequireTenant(tenantId);
            if (!tenant.Policies.ContainsKey(policyId))
            {
                throw TenancyException.NotFound(TenancyErrorCodes.PolicyNotFound, "policy", policyId);
            }
            await _store.DeletePolicyAsync(tenantId, policyId, cancellationToken).ConfigureAwait(false);
            LogAdminChange("deleted", "policy", policyId);
        }, () => true, cancellationToken);

    /// <summary>Creates or replaces a provider entry (a JSON object whose <c>id</c>, if given, is <paramref name="providerId"/>).</summary>
    public Task<ProviderEntry> PutProviderAsync(string providerId, string providerJson, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            TenancyJson.CheckId(providerId, "provider_id");
            var entry = ParseDocument(providerJson, document => TenancyDefinitionsReader.ReadProvider(document, "body", providerId));
            if (_providerValidator?.Validate(providerId, entry.Json) is { } invalid)
            {
                throw TenancyException.Invalid("body", invalid);
            }
            await _store.PutProviderAsync(entry, NowMs(), cancellationToken).ConfigureAwait(false);
            LogAdminChange("stored", "provider", providerId);
        }, () => Snapshot.ProvidersById[providerId], cancellationToken);

    /// <summary>Deletes a provider entry.</summary>
    public Task DeleteProviderAsync(string providerId, CancellationToken cancellationToken)
        => ChangeAsync(routing: true, async () =>
        {
            if (!Snapshot.ProvidersById.ContainsKey(providerId))
            {
                throw TenancyException.NotFound(TenancyErrorCodes.ProviderNotFound, "provider", providerId);
            }
            await _store.DeleteProviderAsync(providerId, cancellationToken).ConfigureAwait(false);
            LogAdminChange("deleted", "provider", providerId);
        }, () => true, cancellationToken);

    private Task<T> ChangeAsync<T>(bool routing, Func<Task> change, Func<T> result, CancellationToken cancellationToken)
        => ChangeAsync(routing, async () =>
        {
            await change().ConfigureAwait(false);
            return true;
        }, _ => result(), cancellationToken);

    private async Task<T> ChangeAsync<TState, T>(bool routing, Func<Task<TState>> change, Func<TState, T> result, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_hasher is null)
            {
                throw new InvalidOperationException("Tenancy is not initialized yet.");
            }
            var state = await change().ConfigureAwait(false);
            var before = _exported;
            // The write is committed: rebuild even if the caller gave up meanwhile.
            await ReloadAsync(routing, CancellationToken.None).ConfigureAwait(false);
            if (_replica is { } replica)
            {
                var (puts, deletes) = TenancyEntities.Diff(before, _exported);
                await PublishAsync(replica, puts, deletes).ConfigureAwait(false);
            }
            return result(state);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private TenantSnapshot RequireTenant(string tenantId)
        => Snapshot.Tenants.TryGetValue(tenantId, out var tenant)
            ? tenant
            : throw TenancyException.NotFound(TenancyErrorCodes.TenantNotFound, "tenant", tenantId);

    private TeamSnapshot RequireTeam(string tenantId, string teamId)
        => RequireTenant(tenantId).Teams.TryGetValue(teamId, out var team)
            ? team
            : throw TenancyException.NotFound(TenancyErrorCodes.TeamNotFound, "team", teamId);

    private static void CheckOptionalId(string? id, string field)
    {
        if (id is not null)
        {
            TenancyJson.CheckId(id, field);
        }
    }

    private static T ParseDocument<T>(string json, Func<JsonElement, T> read)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, TenancyJson.DocumentOptions);
        }
        catch (JsonException error)
        {
            throw TenancyException.Invalid("body", $"is not valid JSON: {error.Message}");
        }
        using (document)
        {
            return read(document.RootElement);
        }
    }
}

/// <summary>A newly created API key.</summary>
/// <param name="Info">The key's metadata, as listed later.</param>
/// <param name="Key">The whole key, <c>bl_&lt;key-id&gt;_&lt;secret&gt;</c>: shown once, never stored.</param>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);
