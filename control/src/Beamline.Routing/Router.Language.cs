using System.Buffers;
using Beamline.Policies;
using Beamline.Policies.Language;
using Beamline.Routing.Bandits;
using Beamline.Routing.Catalog;
using Beamline.Routing.Internal;

namespace Beamline.Routing;

/// <summary>
/// Language policies in the router: the program picks one of its directives per request, and each
/// directive was compiled like a CP1 policy when the policies were set, so the rest of a decision
/// (constraints, allowed providers, breakers, stickiness, fallbacks) is the same code as for JSON.
/// </summary>
public sealed partial class Router
{
    // One per thread, refilled per decision: evaluating a program allocates nothing.
    [ThreadStatic]
    private static PolicyInput? t_input;

    private CompiledPolicy CompileProgram(Policy policy, PolicyProgram program)
    {
        var directives = new CompiledPolicy[program.Directives.Length];
        for (var i = 0; i < directives.Length; i++)
        {
            var directive = program.Directives[i];
            directives[i] = new CompiledPolicy(ToPolicy(policy, directive, _catalog), _catalog, _time, directive);
        }
        return new CompiledPolicy(policy, _catalog, _time) { Program = program, Directives = directives };
    }

    /// <summary>A directive as the CP1 policy the router already knows how to decide; tags resolve against the catalog.</summary>
    internal static Policy ToPolicy(Policy policy, RouteDirective directive, ProviderCatalog catalog)
    {
        var providers = new List<ProviderWeight>(directive.Providers);
        if (!directive.Tags.IsEmpty)
        {
            var tagged = new List<string>();
            foreach (var entry in catalog.Entries)
            {
                foreach (var tag in directive.Tags)
                {
                    if (entry.Descriptor.Kind != ProviderKind.Unknown && entry.Descriptor.Tags.Contains(tag)
                        && !tagged.Contains(entry.Id) && !providers.Exists(p => p.Name == entry.Id))
                    {
                        tagged.Add(entry.Id);
                    }
                }
            }
            tagged.Sort(StringComparer.Ordinal);
            providers.AddRange(tagged.Select(id => new ProviderWeight(id, 1, 1)));
        }
        var strategy = directive.Strategy switch
        {
            DirectiveStrategy.Cheapest => RoutingStrategy.Cheapest,
            DirectiveStrategy.Fastest => RoutingStrategy.Fastest,
            DirectiveStrategy.BestQuality => RoutingStrategy.BestQuality,
            _ => RoutingStrategy.Weighted,
        };
        if (directive.Strategy == DirectiveStrategy.Bandit)
        {
            providers = [.. providers.Select(p => p with { Share = 1.0 / providers.Count })];
        }
        if (providers.Count == 0)
        {
            // A tag no provider carries: no candidates (never "every provider", as an empty CP1 list means).
            strategy = RoutingStrategy.Weighted;
        }
        return policy with
        {
            Strategy = strategy,
            Providers = [.. providers],
            Fallbacks = directive.Fallbacks,
            Sticky = directive.Sticky,
            Language = null,
        };
    }

    private bool TryRunProgram(ref CompiledPolicy policy, in RouteRequest request, out RouteDecision failure)
    {
        var input = t_input ??= new PolicyInput();
        input.TenantId = request.TenantId;
        input.RequestId = request.RequestId;
        input.MessageType = request.MessageType;
        input.SessionId = request.SessionId;
        input.UserId = request.UserId;
        input.Context = request.Context;
        input.MaxCost = request.MaxCost;
        input.MaxLatencyMs = request.MaxLatencyMs;
        input.InputTokens = request.InputTokens > 0 ? request.InputTokens : _defaultInputTokens;
        input.OutputTokens = request.OutputTokens > 0 ? request.OutputTokens : _defaultOutputTokens;
        input.Payload = request.Payload;
        var outcome = policy.Program!.Evaluate(input, _stepBudget);
        input.Context = null;
        input.Payload = default;
        if (!outcome.IsSuccess)
        {
            failure = RouteDecision.Failure(RouteErrorCodes.DecisionFailed, outcome.Error!, policy.Id);
            return false;
        }
        policy = policy.Directives[outcome.Directive];
        failure = default;
        return true;
    }

    private int SelectBandit(CompiledPolicy policy, ReadOnlySpan<bool> eligible, in RouteRequest request)
    {
        var slots = policy.Slots;
        var arms = ArrayPool<string>.Shared.Rent(slots.Length);
        Span<int> slotOf = slots.Length <= 64 ? stackalloc int[slots.Length] : new int[slots.Length];
        try
        {
            var count = 0;
            for (var i = 0; i < slots.Length; i++)
            {
                if (eligible[i])
                {
                    arms[count] = slots[i].Entry.Id;
                    slotOf[count++] = i;
                }
            }
            var site = new BanditSite(request.TenantId ?? string.Empty, policy.Id, policy.Bandit!.SiteId, policy.BanditAlgorithm, policy.BanditReward);
            var pick = _bandits.Select(site, arms.AsSpan(0, count), request);
            return slotOf[Math.Clamp(pick, 0, count - 1)];
        }
        finally
        {
            ArrayPool<string>.Shared.Return(arms, clearArray: true);
        }
    }
}
