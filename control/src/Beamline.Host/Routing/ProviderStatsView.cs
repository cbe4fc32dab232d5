using System.Globalization;
using System.Text.Json;
using Beamline.Policies;
using Beamline.Routing.Catalog;

namespace Beamline.Host.Routing;

/// <summary>
/// The providers each tenant can be routed to, with their live statistics, for
/// <c>GET /admin/v1/provider-stats[?tenant_id=]</c> and <c>beamline.router.v1.admin.get_provider_stats</c>
/// (body optionally <c>{"tenant_id"}</c>; Beamline's own view, CP1 has none):
/// <c>{"ok":true,"instance_id","stats_scope":"instance","tenants":[{tenant_id, providers:[{provider_id,
/// kind, model?, endpoint?, configured, prices{input_per_mtok, output_per_mtok}, quality_score,
/// priority, baseline_latency_ms, policies[], stats{latency_ewma_ms, error_rate_ewma, successes,
/// failures, calls}}]}]}</c>. A tenant's providers are those its policies name (candidates and
/// fallback targets; every configured provider for a <c>cheapest</c>/<c>fastest</c>/<c>best_quality</c>
/// policy without a list), so a tenant filter shows nothing that only another tenant routes to.
/// Statistics are this instance's, per provider (the figures the router decides with), shared by
/// every tenant that routes to it; they restart when tenancy's routing view is rebuilt.
/// </summary>
internal static class ProviderStatsView
{
    /// <summary>Writes the view; <paramref name="tenantFilter"/> null means every tenant.</summary>
    public static void Write(Utf8JsonWriter writer, RoutingService routing, string? tenantFilter)
    {
        var state = routing.Current;
        var tenantIds = new List<string>(state.Tenants.Count);
        foreach (var tenantId in state.Tenants.Keys)
        {
            if (tenantFilter is null || tenantFilter == tenantId)
            {
                tenantIds.Add(tenantId);
            }
        }
        tenantIds.Sort(StringComparer.Ordinal);

        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", routing.InstanceId);
        writer.WriteString("stats_scope", "instance");
        writer.WriteStartArray("tenants");
        foreach (var tenantId in tenantIds)
        {
            writer.WriteStartObject();
            writer.WriteString("tenant_id", tenantId);
            writer.WriteStartArray("providers");
            foreach (var (providerId, policies) in ProvidersOf(state, state.Tenants[tenantId].Policies))
            {
                WriteProvider(writer, state.Catalog, providerId, policies);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    // Provider id → the ids of the tenant's policies that can route to it, both in ordinal order.
    private static SortedDictionary<string, SortedSet<string>> ProvidersOf(RoutingState state, PolicySet policies)
    {
        var providers = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var policy in policies.Policies)
        {
            foreach (var provider in policy.Providers)
            {
                Add(providers, provider.Name, policy.Id);
            }
            if (policy.Providers.IsEmpty && policy.Strategy != RoutingStrategy.Weighted)
            {
                // As the router compiles such a policy: every configured provider is a candidate.
                foreach (var entry in state.Catalog.Entries)
                {
                    if (entry.Descriptor.Kind != ProviderKind.Unknown)
                    {
                        Add(providers, entry.Id, policy.Id);
                    }
                }
            }
            foreach (var rule in policy.Fallbacks)
            {
                Add(providers, rule.To, policy.Id);
            }
        }
        return providers;
    }

    private static void Add(SortedDictionary<string, SortedSet<string>> providers, string providerId, string policyId)
    {
        if (!providers.TryGetValue(providerId, out var policies))
        {
            providers[providerId] = policies = new SortedSet<string>(StringComparer.Ordinal);
        }
        policies.Add(policyId);
    }

    private static void WriteProvider(Utf8JsonWriter writer, ProviderCatalog catalog, string providerId, SortedSet<string> policies)
    {
        catalog.TryGet(providerId, out var entry);
        var descriptor = entry?.Descriptor ?? new ProviderDescriptor { Id = providerId, Kind = ProviderKind.Unknown };
        writer.WriteStartObject();
        writer.WriteString("provider_id", providerId);
        writer.WriteString("kind", KindName(descriptor.Kind));
        if (descriptor.Model is not null)
        {
            writer.WriteString("model", descriptor.Model);
        }
        if (descriptor.Endpoint is not null)
        {
            writer.WriteString("endpoint", descriptor.Endpoint);
        }
        writer.WriteBoolean("configured", descriptor.Kind != ProviderKind.Unknown);
        writer.WriteStartObject("prices");
        // The catalog keeps prices per 1,000 tokens; configuration writes them per million.
        writer.WriteNumber("input_per_mtok", Math.Round(descriptor.InputPricePer1K * 1000, 9));
        writer.WriteNumber("output_per_mtok", Math.Round(descriptor.OutputPricePer1K * 1000, 9));
        writer.WriteEndObject();
        writer.WriteNumber("quality_score", descriptor.QualityScore);
        writer.WriteNumber("priority", descriptor.Priority);
        writer.WriteNumber("baseline_latency_ms", descriptor.BaselineLatencyMs);
        writer.WriteStartArray("policies");
        foreach (var policy in policies)
        {
            writer.WriteStringValue(policy);
        }
        writer.WriteEndArray();
        writer.WriteStartObject("stats");
        var stats = entry?.Stats;
        var successes = stats?.Successes ?? 0;
        var failures = stats?.Failures ?? 0;
        writer.WriteNumber("latency_ewma_ms", Math.Round(stats?.LatencyMs ?? descriptor.BaselineLatencyMs, 3));
        writer.WriteNumber("error_rate_ewma", Math.Round(stats?.ErrorRate ?? 0, 6));
        writer.WriteNumber("successes", successes);
        writer.WriteNumber("failures", failures);
        writer.WriteNumber("calls", successes + failures);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string KindName(ProviderKind kind) => kind switch
    {
        ProviderKind.OpenAI => "openai",
        ProviderKind.Anthropic => "anthropic",
        ProviderKind.OpenAICompatible => "openai_compatible",
        ProviderKind.NatsProvider => "nats_provider",
        ProviderKind.Block => "block",
        ProviderKind.Mock => "mock",
        ProviderKind.Unknown => "unknown",
        _ => kind.ToString().ToLower(CultureInfo.InvariantCulture),
    };
}
