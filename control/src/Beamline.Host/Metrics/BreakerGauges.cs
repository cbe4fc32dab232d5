using System.Diagnostics.Metrics;
using Beamline.Host.Routing;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Telemetry;
using Beamline.Routing.Breakers;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Metrics;

/// <summary>
/// Circuit breaker states as gauges, read at each scrape (0 closed, 1 half-open, 2 open):
/// <c>beamline_circuit_breaker_state{tenant, policy, provider}</c> for the providers of policies
/// with a <c>circuit_breaker</c>, and <c>beamline_extension_breaker_state{extension}</c>. A gauge's
/// series cannot be folded into <c>other</c> (their states would collide), so past the caps
/// (<c>MaxTenants</c>, <c>MaxExtensions</c>) series are left out, never merged.
/// </summary>
internal sealed class BreakerGauges
{
    public BreakerGauges(IMeterFactory meterFactory, IOptions<MetricsOptions> options, RoutingService routing, ExtensionRunner extensions)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(options);
        var caps = options.Value;
        var meter = meterFactory.Create(PipelineMetrics.MeterName);
        meter.CreateObservableGauge("beamline.circuit_breaker.state", () => ProviderBreakers(routing, caps.MaxTenants), "{state}",
            "Provider circuit breakers per tenant and policy: 0 closed, 1 half-open, 2 open.");
        meter.CreateObservableGauge("beamline.extension.breaker.state", () => ExtensionBreakers(extensions, caps.MaxExtensions), "{state}",
            "Extension circuit breakers: 0 closed, 1 half-open, 2 open.");
    }

    private static List<Measurement<int>> ProviderBreakers(RoutingService routing, int maxTenants)
    {
        var measurements = new List<Measurement<int>>();
        var tenants = 0;
        foreach (var (tenantId, tenant) in routing.Current.Tenants.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (tenants++ >= maxTenants)
            {
                break;
            }
            foreach (var policy in tenant.Policies.Policies)
            {
                if (policy.CircuitBreaker is null)
                {
                    continue;
                }
                var providers = new SortedSet<string>(policy.Providers.Select(p => p.Name), StringComparer.Ordinal);
                providers.UnionWith(policy.Fallbacks.Select(f => f.To));
                foreach (var provider in providers)
                {
                    measurements.Add(new Measurement<int>(Value(tenant.Router.GetBreakerState(tenantId, policy.Id, provider)),
                        new("tenant", tenantId), new("policy", policy.Id), new("provider", provider)));
                }
            }
        }
        return measurements;
    }

    private static List<Measurement<int>> ExtensionBreakers(ExtensionRunner extensions, int maxExtensions)
    {
        var measurements = new List<Measurement<int>>();
        foreach (var health in extensions.Health().Take(maxExtensions))
        {
            var value = health.Breaker switch
            {
                "open" => 2,
                "half_open" => 1,
                _ => 0,
            };
            measurements.Add(new Measurement<int>(value, new KeyValuePair<string, object?>("extension", health.Id)));
        }
        return measurements;
    }

    private static int Value(CircuitState state) => state switch
    {
        CircuitState.Open => 2,
        CircuitState.HalfOpen => 1,
        _ => 0,
    };
}
