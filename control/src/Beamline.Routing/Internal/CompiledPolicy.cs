using System.Globalization;
using System.Text;
using Beamline.Policies;
using Beamline.Policies.Language;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;

namespace Beamline.Routing.Internal;

/// <summary>A policy resolved against the catalog once, so that deciding only walks arrays.</summary>
internal sealed class CompiledPolicy
{
    /// <param name="policy">The policy (for a language policy's directive, the policy that directive stands for).</param>
    /// <param name="catalog">The providers.</param>
    /// <param name="time">The clock.</param>
    /// <param name="directive">The language directive this compiles, or null for a CP1 policy.</param>
    public CompiledPolicy(Policy policy, ProviderCatalog catalog, TimeProvider time, RouteDirective? directive = null)
    {
        Policy = policy;
        Id = policy.Id;
        Strategy = policy.Strategy;
        Bandit = directive?.Bandit;
        Reason = Bandit is not null ? RouteReasons.Bandit : policy.Strategy switch
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
        var primary = policy.Strategy == RoutingStrategy.Weighted && Bandit is null
            ? new Dictionary<string, string> { ["algorithm"] = algorithm, ["weights"] = weights }
            : new Dictionary<string, string> { ["algorithm"] = algorithm };
        if (Bandit is not null)
        {
            // The site and algorithm let rewards be attributed to this bandit later.
            primary["algorithm"] = Bandit.Algorithm;
            primary["bandit_site"] = Bandit.SiteId;
            primary["reward"] = Bandit.Reward;
            BanditAlgorithm = Bandit.Algorithm == "linucb" ? Bandits.BanditAlgorithm.LinUcb : Bandits.BanditAlgorithm.Thompson;
            BanditReward = Bandit.Reward switch
            {
                "success" => Bandits.BanditReward.Success,
                "latency" => Bandits.BanditReward.Latency,
                "cost" => Bandits.BanditReward.Cost,
                _ => Bandits.BanditReward.Quality,
            };
        }
        if (directive is not null)
        {
            primary["rule"] = directive.Location;
        }
        PrimaryMetadata = primary;
        StickyMetadata = new Dictionary<string, string>
        {
            ["algorithm"] = "sticky",
            ["session_key"] = Sticky?.SessionKey ?? string.Empty,
        };
        FallbackMetadata = new Dictionary<string, string> { ["algorithm"] = "fallback" };
    }

    public Policy Policy { get; }

    /// <summary>The program of a language policy (then <see cref="Directives"/> holds what it can route to); null otherwise.</summary>
    public PolicyProgram? Program { get; init; }

    /// <summary>A language policy's directives compiled like policies, by directive index.</summary>
    public CompiledPolicy[] Directives { get; init; } = [];

    /// <summary>The bandit site when this directive is a <c>bandit(...)</c>; null otherwise.</summary>
    public BanditDirective? Bandit { get; }

    public Bandits.BanditAlgorithm BanditAlgorithm { get; }

    public Bandits.BanditReward BanditReward { get; }

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
