using System.Globalization;
using System.Text;
using Beamline.Policies;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;

namespace Beamline.Routing.Internal;

/// <summary>A policy resolved against the catalog once, so that deciding only walks arrays.</summary>
internal sealed class CompiledPolicy
{
    public CompiledPolicy(Policy policy, ProviderCatalog catalog, TimeProvider time)
    {
        Policy = policy;
        Id = policy.Id;
        Strategy = policy.Strategy;
        Reason = policy.Strategy switch
        {
            RoutingStrategy.Cheapest => RouteReasons.Cheapest,
            RoutingStrategy.Fastest => RouteReasons.Fastest,
            RoutingStrategy.BestQuality => RouteReasons.BestQuality,
            _ => RouteReasons.Weighted,
        };
        if (policy.Providers.IsEmpty && policy.Strategy != RoutingStrategy.Weighted)
        {
            var all = new List<Slot>();
            foreach (var entry in catalog.Entries)
            {
                if (entry.Descriptor.Kind != ProviderKind.Unknown)
                {
                    all.Add(new Slot(entry, 1.0));
                }
            }
            all.Sort(static (a, b) => string.CompareOrdinal(a.Entry.Id, b.Entry.Id));
            Slots = [.. all];
        }
        else
        {
            Slots = new Slot[policy.Providers.Length];
            for (var i = 0; i < Slots.Length; i++)
            {
                var p = policy.Providers[i];
                Slots[i] = new Slot(catalog.GetOrAdd(p.Name), policy.Strategy == RoutingStrategy.Weighted ? p.Share : 1.0);
            }
        }
        Plan = FallbackPlan.For(policy);
        FallbackTargets = new ProviderEntry[Plan.Rules.Length];
        for (var i = 0; i < FallbackTargets.Length; i++)
        {
            FallbackTargets[i] = catalog.GetOrAdd(Plan.Rules[i].To);
        }
        Sticky = policy.Sticky;
        if (Sticky is not null)
        {
            StickyTtlTicks = (long)(Sticky.Ttl.TotalSeconds * time.TimestampFrequency);
        }
        Breaker = policy.CircuitBreaker;

        var weights = WeightsJson(policy);
        var algorithm = policy.Strategy == RoutingStrategy.Weighted ? "weighted_random" : Reason;
        PrimaryMetadata = policy.Strategy == RoutingStrategy.Weighted
            ? new Dictionary<string, string> { ["algorithm"] = algorithm, ["weights"] = weights }
            : new Dictionary<string, string> { ["algorithm"] = algorithm };
        StickyMetadata = new Dictionary<string, string>
        {
            ["algorithm"] = "sticky",
            ["session_key"] = Sticky?.SessionKey ?? string.Empty,
        };
        FallbackMetadata = new Dictionary<string, string> { ["algorithm"] = "fallback" };
    }

    public Policy Policy { get; }

    public string Id { get; }

    public RoutingStrategy Strategy { get; }

    public string Reason { get; }

    public Slot[] Slots { get; }

    public FallbackPlan Plan { get; }

    /// <summary>The entry of each rule's <c>to</c>, by rule index.</summary>
    public ProviderEntry[] FallbackTargets { get; }

    public StickySettings? Sticky { get; }

    public long StickyTtlTicks { get; }

    public CircuitBreakerSettings? Breaker { get; }

    public IReadOnlyDictionary<string, string> PrimaryMetadata { get; }

    public IReadOnlyDictionary<string, string> StickyMetadata { get; }

    public IReadOnlyDictionary<string, string> FallbackMetadata { get; }

    /// <summary>A provider this policy can route to (a slot or a fallback target), by id.</summary>
    public ProviderEntry? Find(string id)
    {
        foreach (var slot in Slots)
        {
            if (string.Equals(slot.Entry.Id, id, StringComparison.Ordinal))
            {
                return slot.Entry;
            }
        }
        foreach (var target in FallbackTargets)
        {
            if (string.Equals(target.Id, id, StringComparison.Ordinal))
            {
                return target;
            }
        }
        return null;
    }

    private static string WeightsJson(Policy policy)
    {
        var json = new StringBuilder("{");
        foreach (var p in policy.Providers)
        {
            if (json.Length > 1)
            {
                json.Append(", ");
            }
            json.Append('"').Append(p.Name.Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\": ")
                .Append(Math.Round(p.Share, 4).ToString("0.####", CultureInfo.InvariantCulture));
        }
        return json.Append('}').ToString();
    }

    /// <summary>A candidate and its share of the weighted pick (1 for the other strategies).</summary>
    internal readonly record struct Slot(ProviderEntry Entry, double Share);
}
