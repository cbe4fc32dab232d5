using System.Text.Json;
using Beamline.Routing.Breakers;

namespace Beamline.Host.Routing;

/// <summary>
/// The circuit breakers' states, for <c>GET /admin/v1/circuit-breakers</c> and
/// <c>beamline.router.v1.admin.get_circuit_breaker_states</c>:
/// <c>{"ok":true,"instance_id","breakers":[{tenant_id, policy_id, provider_id, state}]}</c>, one
/// entry per provider named (as a candidate or a fallback target) by every policy that has a
/// <c>circuit_breaker</c>; state is <c>closed</c>, <c>open</c> or <c>half_open</c>. Over NATS the
/// body is read by <see cref="RouterAdminJson.ReadTenantFilter"/>.
/// </summary>
internal static class BreakerStates
{
    public static void Write(Utf8JsonWriter writer, RoutingService routing, string? tenantFilter)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", routing.InstanceId);
        writer.WriteStartArray("breakers");
        foreach (var (tenantId, tenant) in routing.Current.Tenants)
        {
            if (tenantFilter is not null && tenantFilter != tenantId)
            {
                continue;
            }
            foreach (var policy in tenant.Policies.Policies)
            {
                if (policy.CircuitBreaker is null)
                {
                    continue;
                }
                var providers = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var provider in policy.Providers)
                {
                    providers.Add(provider.Name);
                }
                foreach (var rule in policy.Fallbacks)
                {
                    providers.Add(rule.To);
                }
                foreach (var provider in providers)
                {
                    writer.WriteStartObject();
                    writer.WriteString("tenant_id", tenantId);
                    writer.WriteString("policy_id", policy.Id);
                    writer.WriteString("provider_id", provider);
                    writer.WriteString("state", Name(tenant.Router.GetBreakerState(tenantId, policy.Id, provider)));
                    writer.WriteEndObject();
                }
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static string Name(CircuitState state) => state switch
    {
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half_open",
        _ => "closed",
    };
}
