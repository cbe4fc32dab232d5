using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Beamline.Policies.Language;

/// <summary>How a <see cref="RouteDirective"/> picks among its candidates.</summary>
public enum DirectiveStrategy
{
    /// <summary>A weighted random pick (<c>split</c>, or a plain provider or list).</summary>
    Weighted,

    /// <summary><c>cheapest(...)</c>.</summary>
    Cheapest,

    /// <summary><c>fastest(...)</c>.</summary>
    Fastest,

    /// <summary><c>best_quality(...)</c>.</summary>
    BestQuality,

    /// <summary><c>bandit(...)</c>: the router's bandit selector picks.</summary>
    Bandit,
}

/// <summary>A <c>bandit(...)</c> call: where it is (the site the selector learns for) and what it optimises.</summary>
/// <param name="SiteId">Stable id of the call, e.g. <c>bandit@support:12:9</c> (with the <c>use</c> chain when inlined).</param>
/// <param name="Algorithm"><c>thompson</c> or <c>linucb</c>.</param>
/// <param name="Reward"><c>quality</c>, <c>success</c>, <c>latency</c> or <c>cost</c>.</param>
public sealed record BanditDirective(string SiteId, string Algorithm, string Reward);

/// <summary>
/// What a language policy decided for one request: the strategy, its candidates, stickiness, the
/// bandit site and the fallback rules. Every directive of a policy is known when it compiles (route
/// targets are fixed then), so the router prepares each once and a decision only picks one.
/// </summary>
public sealed record RouteDirective
{
    /// <summary>How the primary provider is picked.</summary>
    public DirectiveStrategy Strategy { get; init; }

    /// <summary>Named candidates (shares sum to 1 for a weighted pick; 1 each otherwise).</summary>
    public ImmutableArray<ProviderWeight> Providers { get; init; } = [];

    /// <summary>Catalog tags whose providers are candidates too (<c>tagged("x")</c>), resolved by the router.</summary>
    public ImmutableArray<string> Tags { get; init; } = [];

    /// <summary>Sticky sessions around the pick, or null.</summary>
    public StickySettings? Sticky { get; init; }

    /// <summary>The bandit site when <see cref="Strategy"/> is <see cref="DirectiveStrategy.Bandit"/>.</summary>
    public BanditDirective? Bandit { get; init; }

    /// <summary>Fallback rules: the routed policy's own first, then those of the policies that <c>use</c> it.</summary>
    public ImmutableArray<FallbackRule> Fallbacks { get; init; } = [];

    /// <summary>Where the <c>route</c> statement is: <c>policy:line:column</c>, with the <c>use</c> chain before it.</summary>
    public string Location { get; init; } = string.Empty;

    /// <summary>One line that states the directive (for <c>beamline policy check</c> and for comparisons in tests).</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(Strategy switch
        {
            DirectiveStrategy.Weighted => "split",
            DirectiveStrategy.Cheapest => "cheapest",
            DirectiveStrategy.Fastest => "fastest",
            DirectiveStrategy.BestQuality => "best_quality",
            _ => "bandit",
        }).Append('(');
        var first = true;
        foreach (var p in Providers)
        {
            text.Append(first ? "" : ", ").Append(p.Name);
            if (Strategy == DirectiveStrategy.Weighted && Providers.Length > 1)
            {
                text.Append(inv, $" {Math.Round(p.Share * 100, 2)}%");
            }
            first = false;
        }
        foreach (var tag in Tags)
        {
            text.Append(first ? "" : ", ").Append(inv, $"tagged(\"{tag}\")");
            first = false;
        }
        text.Append(')');
        if (Bandit is { } bandit)
        {
            text.Append(inv, $" algorithm={bandit.Algorithm} reward={bandit.Reward} site={bandit.SiteId}");
        }
        if (Sticky is { } sticky)
        {
            text.Append(inv, $" sticky(key={sticky.SessionKey}, ttl={sticky.Ttl.TotalSeconds}s)");
        }
        foreach (var rule in Fallbacks)
        {
            text.Append(inv, $" fallback[{FailureKindNames.Format(rule.When)}");
            if (!rule.MessageTypes.IsEmpty)
            {
                text.Append(inv, $" types={string.Join('|', rule.MessageTypes)}");
            }
            text.Append(inv, $" retry={rule.Retry} -> {rule.To}{(rule.IsLegacy ? " legacy" : "")}]");
        }
        return text.ToString();
    }
}
