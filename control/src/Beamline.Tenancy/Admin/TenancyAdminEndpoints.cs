using System.Text.Json;
using Beamline.Tenancy;
using Beamline.Tenancy.Admin;
using Beamline.Tenancy.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the tenancy admin API (docs/tenancy.md).</summary>
public static class TenancyAdminEndpoints
{
    /// <summary>
    /// Maps the admin API under <paramref name="prefix"/> (default <c>/admin/v1</c>): tenants,
    /// teams, API keys, policies and providers. Every request needs
    /// <c>Authorization: Bearer &lt;Beamline:Tenancy:AdminKey&gt;</c> (reads also take a dashboard
    /// session, <see cref="IAdminSessions"/>); without it the answer is 401 <c>unauthorized</c> in the
    /// CP1 error shape.
    /// </summary>
    public static RouteGroupBuilder MapTenancyAdmin(this IEndpointRouteBuilder endpoints, string prefix = "/admin/v1")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<TenancyOptions>>().Value;
        var admin = new AdminEndpoints(new AdminAuthorization(options.AdminKey), options.MaxAdminRequestBytes);
        var group = endpoints.MapGroup(prefix);

        group.MapGet("/tenants", admin.Handle(ListTenantsAsync));
        group.MapPost("/tenants", admin.Handle(CreateTenantAsync));
        group.MapGet("/tenants/{tenantId}", admin.Handle(GetTenantAsync));
        group.MapMethods("/tenants/{tenantId}", ["PATCH"], admin.Handle(UpdateTenantAsync));
        group.MapDelete("/tenants/{tenantId}", admin.Handle(DeleteTenantAsync));

        group.MapGet("/tenants/{tenantId}/teams", admin.Handle(ListTeamsAsync));
        group.MapPost("/tenants/{tenantId}/teams", admin.Handle(CreateTeamAsync));
        group.MapGet("/tenants/{tenantId}/teams/{teamId}", admin.Handle(GetTeamAsync));
        group.MapMethods("/tenants/{tenantId}/teams/{teamId}", ["PATCH"], admin.Handle(UpdateTeamAsync));
        group.MapDelete("/tenants/{tenantId}/teams/{teamId}", admin.Handle(DeleteTeamAsync));

        group.MapGet("/tenants/{tenantId}/keys", admin.Handle(ListKeysAsync));
        group.MapPost("/tenants/{tenantId}/keys", admin.Handle(CreateKeyAsync));
        group.MapGet("/tenants/{tenantId}/keys/{keyId}", admin.Handle(GetKeyAsync));
        group.MapPost("/tenants/{tenantId}/keys/{keyId}/revoke", admin.Handle(RevokeKeyAsync));

        group.MapGet("/tenants/{tenantId}/policies", admin.Handle(ListPoliciesAsync));
        group.MapGet("/tenants/{tenantId}/policies/{policyId}", admin.Handle(GetPolicyAsync));
        group.MapPut("/tenants/{tenantId}/policies/{policyId}", admin.Handle(PutPolicyAsync));
        group.MapDelete("/tenants/{tenantId}/policies/{policyId}", admin.Handle(DeletePolicyAsync));

        group.MapGet("/providers", admin.Handle(ListProvidersAsync));
        group.MapGet("/providers/{providerId}", admin.Handle(GetProviderAsync));
        group.MapPut("/providers/{providerId}", admin.Handle(PutProviderAsync));
        group.MapDelete("/providers/{providerId}", admin.Handle(DeleteProviderAsync));
        return group;
    }

    /// <summary>
    /// True when <paramref name="request"/> carries <c>Authorization: Bearer &lt;AdminKey&gt;</c> (compared
    /// in constant time), or, for GET and HEAD, a live <see cref="IAdminSessions"/> session (the
    /// dashboard's cookie), for admin endpoints that live outside this API; always false while no
    /// admin key is configured.
    /// </summary>
    public static bool IsAdminAuthorized(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<TenancyOptions>>().Value;
        return new AdminAuthorization(options.AdminKey).IsAuthorized(request);
    }

    /// <summary>
    /// True when <paramref name="presented"/> is the configured admin key (compared in constant time),
    /// for a login form that opens an <see cref="IAdminSessions"/> session; always false while no admin
    /// key is configured.
    /// </summary>
    public static bool IsAdminKey(IServiceProvider services, string presented)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(presented);
        var options = services.GetRequiredService<IOptions<TenancyOptions>>().Value;
        return new AdminAuthorization(options.AdminKey).Matches(presented.AsSpan().Trim());
    }

    /// <summary>Whether an admin key is configured at all (without one, the admin API answers 401 to everyone).</summary>
    public static bool IsAdminEnabled(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return !string.IsNullOrEmpty(services.GetRequiredService<IOptions<TenancyOptions>>().Value.AdminKey);
    }

    private static Task ListTenantsAsync(AdminRequest request)
        => request.OkAsync(writer =>
        {
            writer.WriteStartArray("tenants");
            foreach (var tenant in request.Directory.Snapshot.Tenants.Values.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                AdminJson.WriteTenant(writer, tenant);
            }
            writer.WriteEndArray();
        });

    private static async Task CreateTenantAsync(AdminRequest request)
    {
        using var body = await request.ReadObjectAsync("id", "name", "default_policy", "limits").ConfigureAwait(false);
        var root = body.RootElement;
        var tenant = await request.Directory.CreateTenantAsync(
            TenancyJson.RequireId(root, "id", ""),
            TenancyJson.OptionalString(root, "name", ""),
            TenancyJson.OptionalId(root, "default_policy", ""),
            TenancyJson.ReadLimitsMember(root, ""),
            request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("tenant");
            AdminJson.WriteTenant(writer, tenant);
        }, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static Task GetTenantAsync(AdminRequest request)
    {
        var tenant = request.Tenant();
        return request.OkAsync(writer =>
        {
            writer.WritePropertyName("tenant");
            AdminJson.WriteTenant(writer, tenant);
        });
    }

    /// <summary>PATCH: members present in the body replace the stored ones (null clears); absent ones stay.</summary>
    private static async Task UpdateTenantAsync(AdminRequest request)
    {
        var existing = request.Tenant();
        using var body = await request.ReadObjectAsync("name", "default_policy", "limits").ConfigureAwait(false);
        var root = body.RootElement;
        var tenant = await request.Directory.UpdateTenantAsync(
            existing.Id,
            root.TryGetProperty("name", out _) ? TenancyJson.OptionalString(root, "name", "") : existing.Name,
            root.TryGetProperty("default_policy", out _) ? TenancyJson.OptionalId(root, "default_policy", "") : existing.DefaultPolicyId,
            root.TryGetProperty("limits", out _) ? TenancyJson.ReadLimitsMember(root, "") : existing.Limits,
            request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("tenant");
            AdminJson.WriteTenant(writer, tenant);
        }).ConfigureAwait(false);
    }

    private static async Task DeleteTenantAsync(AdminRequest request)
    {
        await request.Directory.DeleteTenantAsync(request.Route("tenantId"), request.Aborted).ConfigureAwait(false);
        await request.OkAsync(null).ConfigureAwait(false);
    }

    private static Task ListTeamsAsync(AdminRequest request)
    {
        var tenant = request.Tenant();
        return request.OkAsync(writer =>
        {
            writer.WriteStartArray("teams");
            foreach (var team in tenant.Teams.Values.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                AdminJson.WriteTeam(writer, team);
            }
            writer.WriteEndArray();
        });
    }

    private static async Task CreateTeamAsync(AdminRequest request)
    {
        var tenantId = request.Route("tenantId");
        using var body = await request.ReadObjectAsync("id", "name", "limits").ConfigureAwait(false);
        var root = body.RootElement;
        var team = await request.Directory.CreateTeamAsync(
            tenantId,
            TenancyJson.RequireId(root, "id", ""),
            TenancyJson.OptionalString(root, "name", ""),
            TenancyJson.ReadLimitsMember(root, ""),
            request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("team");
            AdminJson.WriteTeam(writer, team);
        }, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static Task GetTeamAsync(AdminRequest request)
    {
        var team = request.Team();
        return request.OkAsync(writer =>
        {
            writer.WritePropertyName("team");
            AdminJson.WriteTeam(writer, team);
        });
    }

    private static async Task UpdateTeamAsync(AdminRequest request)
    {
        var existing = request.Team();
        using var body = await request.ReadObjectAsync("name", "limits").ConfigureAwait(false);
        var root = body.RootElement;
        var team = await request.Directory.UpdateTeamAsync(
            existing.TenantId,
            existing.Id,
            root.TryGetProperty("name", out _) ? TenancyJson.OptionalString(root, "name", "") : existing.Name,
            root.TryGetProperty("limits", out _) ? TenancyJson.ReadLimitsMember(root, "") : existing.Limits,
            request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("team");
            AdminJson.WriteTeam(writer, team);
        }).ConfigureAwait(false);
    }

    private static async Task DeleteTeamAsync(AdminRequest request)
    {
        await request.Directory.DeleteTeamAsync(request.Route("tenantId"), request.Route("teamId"), request.Aborted).ConfigureAwait(false);
        await request.OkAsync(null).ConfigureAwait(false);
    }

    private static Task ListKeysAsync(AdminRequest request)
    {
        var tenant = request.Tenant();
        var now = request.Directory.UtcNow();
        return request.OkAsync(writer =>
        {
            writer.WriteStartArray("keys");
            foreach (var key in request.Directory.Snapshot.KeysOf(tenant.Id))
            {
                AdminJson.WriteKey(writer, key, now);
            }
            writer.WriteEndArray();
        });
    }

    private static async Task CreateKeyAsync(AdminRequest request)
    {
        var tenantId = request.Route("tenantId");
        using var body = await request.ReadObjectAsync("team_id", "name", "expires_at", "limits").ConfigureAwait(false);
        var root = body.RootElement;
        var created = await request.Directory.CreateKeyAsync(
            tenantId,
            TenancyJson.OptionalId(root, "team_id", ""),
            TenancyJson.OptionalString(root, "name", ""),
            TenancyJson.OptionalTime(root, "expires_at", ""),
            TenancyJson.ReadLimitsMember(root, ""),
            request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WriteString("key", created.Key);
            writer.WriteString("notice", "This is the only time the key is shown: store it now. Beamline keeps only its hash.");
            writer.WritePropertyName("api_key");
            AdminJson.WriteKey(writer, created.Info, request.Directory.UtcNow());
        }, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static Task GetKeyAsync(AdminRequest request)
    {
        var key = request.Key();
        return request.OkAsync(writer =>
        {
            writer.WritePropertyName("api_key");
            AdminJson.WriteKey(writer, key, request.Directory.UtcNow());
        });
    }

    private static async Task RevokeKeyAsync(AdminRequest request)
    {
        var key = await request.Directory.RevokeKeyAsync(request.Route("tenantId"), request.Route("keyId"), request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("api_key");
            AdminJson.WriteKey(writer, key, request.Directory.UtcNow());
        }).ConfigureAwait(false);
    }

    private static Task ListPoliciesAsync(AdminRequest request)
    {
        var tenant = request.Tenant();
        return request.OkAsync(writer =>
        {
            writer.WriteString("tenant_id", tenant.Id);
            writer.WriteString("default_policy", tenant.DefaultPolicyId);
            writer.WriteStartArray("policies");
            foreach (var policyId in tenant.Policies.Keys.Order(StringComparer.Ordinal))
            {
                writer.WriteStringValue(policyId);
            }
            writer.WriteEndArray();
        });
    }

    private static Task GetPolicyAsync(AdminRequest request)
    {
        var tenant = request.Tenant();
        var policyId = request.Route("policyId");
        if (!tenant.TryGetPolicyJson(policyId, out var json))
        {
            throw new TenancyException(TenancyErrorKind.NotFound, TenancyErrorCodes.PolicyNotFound, $"policy '{policyId}' does not exist");
        }
        return request.OkAsync(writer =>
        {
            writer.WriteString("tenant_id", tenant.Id);
            writer.WriteString("policy_id", policyId);
            writer.WritePropertyName("policy");
            writer.WriteRawValue(json, skipInputValidation: true);
        });
    }

    private static async Task PutPolicyAsync(AdminRequest request)
    {
        var tenantId = request.Route("tenantId");
        var policyId = request.Route("policyId");
        var json = await request.ReadTextAsync().ConfigureAwait(false);
        if (request.IsPlainText && json.AsSpan().TrimStart() is [not ('{' or '[' or '"'), ..])
        {
            // A policy-language source (text/plain, not JSON: clients that send JSON as text/plain
            // keep working): stored in its JSON wrapper, validated like any policy.
            json = new System.Text.Json.Nodes.JsonObject { ["id"] = policyId, ["language"] = json }.ToJsonString();
        }
        await request.Directory.PutPolicyAsync(tenantId, policyId, json, request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WriteString("tenant_id", tenantId);
            writer.WriteString("policy_id", policyId);
        }).ConfigureAwait(false);
    }

    private static async Task DeletePolicyAsync(AdminRequest request)
    {
        await request.Directory.DeletePolicyAsync(request.Route("tenantId"), request.Route("policyId"), request.Aborted).ConfigureAwait(false);
        await request.OkAsync(null).ConfigureAwait(false);
    }

    private static Task ListProvidersAsync(AdminRequest request)
        => request.OkAsync(writer =>
        {
            writer.WriteStartArray("providers");
            foreach (var provider in request.Directory.Providers)
            {
                writer.WriteRawValue(provider.Json, skipInputValidation: true);
            }
            writer.WriteEndArray();
        });

    private static Task GetProviderAsync(AdminRequest request)
    {
        var providerId = request.Route("providerId");
        if (!request.Directory.Snapshot.ProvidersById.TryGetValue(providerId, out var provider))
        {
            throw new TenancyException(TenancyErrorKind.NotFound, TenancyErrorCodes.ProviderNotFound, $"provider '{providerId}' does not exist");
        }
        return request.OkAsync(writer =>
        {
            writer.WritePropertyName("provider");
            writer.WriteRawValue(provider.Json, skipInputValidation: true);
        });
    }

    private static async Task PutProviderAsync(AdminRequest request)
    {
        var json = await request.ReadTextAsync().ConfigureAwait(false);
        var provider = await request.Directory.PutProviderAsync(request.Route("providerId"), json, request.Aborted).ConfigureAwait(false);
        await request.OkAsync(writer =>
        {
            writer.WritePropertyName("provider");
            writer.WriteRawValue(provider.Json, skipInputValidation: true);
        }).ConfigureAwait(false);
    }

    private static async Task DeleteProviderAsync(AdminRequest request)
    {
        await request.Directory.DeleteProviderAsync(request.Route("providerId"), request.Aborted).ConfigureAwait(false);
        await request.OkAsync(null).ConfigureAwait(false);
    }
}
