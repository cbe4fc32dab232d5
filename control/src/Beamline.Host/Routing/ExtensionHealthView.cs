using System.Collections.Immutable;
using System.Text.Json;
using Beamline.Pipeline.Extensions;
using Beamline.Policies;

namespace Beamline.Host.Routing;

/// <summary>
/// Extension health, for <c>GET /admin/v1/extensions/health[?tenant_id=]</c> and
/// <c>beamline.router.v1.admin.get_extension_health</c> (body optionally <c>{"tenant_id"}</c>),
/// keyed by id as in the CP1 router: <c>{"ok":true,"instance_id","extensions_run":true,
/// "health":{id:{extension_id, type, source (builtin|nats|unregistered), subject, status
/// (healthy|degraded|open|unknown|unregistered), calls, success_count, failure_count,
/// timeouts, success_rate, p50_ms, p99_ms, breaker, last_error, last_error_at, stages[],
/// referenced_by[{tenant_id, policy_id, stage}]}}}</c>. Without a tenant filter every known
/// extension is listed (registry entries, built-ins, and ids policies name); with one, those the
/// tenant's policies name. Counters are this instance's since it started.
/// </summary>
internal static class ExtensionHealthView
{
    private static readonly string[] Stages = ["pre", "validators", "post"];

    /// <summary>Writes the view; <paramref name="tenantFilter"/> null means every tenant.</summary>
    public static void Write(Utf8JsonWriter writer, RoutingService routing, ExtensionRunner runner, string? tenantFilter)
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
        var health = new Dictionary<string, ExtensionHealth>(StringComparer.Ordinal);
        foreach (var entry in runner.Health())
        {
            health[entry.Id] = entry;
            if (tenantFilter is null && !extensions.ContainsKey(entry.Id))
            {
                extensions[entry.Id] = [];
            }
        }
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", routing.InstanceId);
        writer.WriteBoolean("extensions_run", true);
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
            WriteHealth(writer, health.GetValueOrDefault(id));
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

    // A referenced id that is neither registered nor built in: calls to it fail with
    // extension_not_found (or are skipped, for optional/warn/ignore steps).
    private static void WriteHealth(Utf8JsonWriter writer, ExtensionHealth? health)
    {
        if (health is null)
        {
            writer.WriteNull("type");
            writer.WriteString("source", "unregistered");
            writer.WriteNull("subject");
            writer.WriteString("status", "unregistered");
            writer.WriteNumber("calls", 0);
            writer.WriteNumber("success_count", 0);
            writer.WriteNumber("failure_count", 0);
            writer.WriteNumber("timeouts", 0);
            writer.WriteNull("success_rate");
            writer.WriteNull("p50_ms");
            writer.WriteNull("p99_ms");
            writer.WriteNull("breaker");
            writer.WriteNull("last_error");
            writer.WriteNull("last_error_at");
            return;
        }
        writer.WriteString("type", health.Type switch
        {
            ExtensionType.Pre => "pre",
            ExtensionType.Validator => "validator",
            ExtensionType.Post => "post",
            _ => "provider",
        });
        writer.WriteString("source", health.Source);
        if (health.Subject is null)
        {
            writer.WriteNull("subject");
        }
        else
        {
            writer.WriteString("subject", health.Subject);
        }
        var successes = health.Calls - health.Failures;
        var status = health.Breaker == "open" ? "open"
            : health.Calls == 0 ? "unknown"
            : health.Failures * 2 > health.Calls ? "degraded"
            : "healthy";
        writer.WriteString("status", status);
        writer.WriteNumber("calls", health.Calls);
        writer.WriteNumber("success_count", successes);
        writer.WriteNumber("failure_count", health.Failures);
        writer.WriteNumber("timeouts", health.Timeouts);
        if (health.Calls == 0)
        {
            writer.WriteNull("success_rate");
        }
        else
        {
            writer.WriteNumber("success_rate", Math.Round((double)successes / health.Calls, 4));
        }
        WriteNumberOrNull(writer, "p50_ms", health.P50Ms);
        WriteNumberOrNull(writer, "p99_ms", health.P99Ms);
        writer.WriteString("breaker", health.Breaker);
        if (health.LastError is null)
        {
            writer.WriteNull("last_error");
            writer.WriteNull("last_error_at");
        }
        else
        {
            writer.WriteString("last_error", health.LastError);
            if (health.LastErrorAt is { } at)
            {
                writer.WriteString("last_error_at", at);
            }
            else
            {
                writer.WriteNull("last_error_at");
            }
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } number && double.IsFinite(number))
        {
            writer.WriteNumber(name, Math.Round(number, 3));
        }
        else
        {
            writer.WriteNull(name);
        }
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
