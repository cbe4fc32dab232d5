using System.Collections.Immutable;
using System.Text.Json;
using Beamline.Policies;

namespace Beamline.Host.Routing;

/// <summary>
/// Extension health, for <c>GET /admin/v1/extensions/health[?tenant_id=]</c> and
/// <c>beamline.router.v1.admin.get_extension_health</c> (body optionally <c>{"tenant_id"}</c>).
/// This control plane has no extension registry and calls no extension yet, so there is no
/// measured health: the view lists every extension the loaded policies name, keyed by id as in
/// the CP1 router (<c>{"health":{id:{...}}}</c>), each with <c>status: "unknown"</c>, zero
/// calls and the policies that reference it, and says <c>"extensions_run": false</c>:
/// <c>{"ok":true,"instance_id","extensions_run":false,"health":{id:{extension_id, status,
/// success_count, failure_count, success_rate (null), stages[], referenced_by[{tenant_id,
/// policy_id, stage}]}}}</c>. With a tenant filter only that tenant's policies are read.
/// </summary>
internal static class ExtensionHealthView
{
    private static readonly string[] Stages = ["pre", "validators", "post"];

    /// <summary>Writes the view; <paramref name="tenantFilter"/> null means every tenant.</summary>
    public static void Write(Utf8JsonWriter writer, RoutingService routing, string? tenantFilter)
    {
        var extensions = new SortedDictionary<string, List<(string Tenant, string Policy, string Stage)>>(StringComparer.Ordinal);
        foreach (var (tenantId, tenant) in routing.Current.Tenants)
        {
            if (tenantFilter is not null && tenantFilter != tenantId)
            {
                continue;
            }
            foreach (var policy in tenant.Policies.Policies)
            {
                Collect(extensions, tenantId, policy.Id, "pre", policy.Pre);
                Collect(extensions, tenantId, policy.Id, "validators", policy.Validators);
                Collect(extensions, tenantId, policy.Id, "post", policy.Post);
            }
        }
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", routing.InstanceId);
        writer.WriteBoolean("extensions_run", false);
        writer.WriteStartObject("health");
        foreach (var (id, references) in extensions)
        {
            references.Sort(static (a, b) =>
            {
                var order = string.CompareOrdinal(a.Tenant, b.Tenant);
                order = order != 0 ? order : string.CompareOrdinal(a.Policy, b.Policy);
                return order != 0 ? order : Array.IndexOf(Stages, a.Stage) - Array.IndexOf(Stages, b.Stage);
            });
            writer.WriteStartObject(id);
            writer.WriteString("extension_id", id);
            writer.WriteString("status", "unknown");
            writer.WriteNumber("success_count", 0);
            writer.WriteNumber("failure_count", 0);
            writer.WriteNull("success_rate");
            writer.WriteStartArray("stages");
            foreach (var stage in Stages)
            {
                if (references.Exists(r => r.Stage == stage))
                {
                    writer.WriteStringValue(stage);
                }
            }
            writer.WriteEndArray();
            writer.WriteStartArray("referenced_by");
            foreach (var (tenant, policy, stage) in references)
            {
                writer.WriteStartObject();
                writer.WriteString("tenant_id", tenant);
                writer.WriteString("policy_id", policy);
                writer.WriteString("stage", stage);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void Collect(SortedDictionary<string, List<(string, string, string)>> extensions,
        string tenantId, string policyId, string stage, ImmutableArray<ExtensionStep> steps)
    {
        foreach (var step in steps)
        {
            if (!extensions.TryGetValue(step.Id, out var references))
            {
                extensions[step.Id] = references = [];
            }
            references.Add((tenantId, policyId, stage));
        }
    }
}
