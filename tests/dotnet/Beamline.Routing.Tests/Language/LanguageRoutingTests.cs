using System.Collections.Immutable;
using Beamline.Policies;
using Beamline.Policies.Language;
using Beamline.Routing.Bandits;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Beamline.Testing;

namespace Beamline.Routing.Tests.Language;

public sealed class LanguageRoutingTests
{
    private static Router Router(string source, IBanditSelector? bandits = null, RouterOptions? options = null, ProviderCatalog? catalog = null)
    {
        var loaded = PolicyLanguage.Load("p", source);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Errors));
        return new Router(catalog ?? TestRouters.Catalog(), new PolicySet([loaded.Policy!]), options ?? new RouterOptions { DefaultPolicyId = "p" },
            new ManualTimeProvider(), new RandomSource(3), bandits);
    }

    /// <summary>A bandit selector that always takes the last arm and remembers what it was asked.</summary>
    private sealed class LastArmSelector : IBanditSelector
    {
        public List<(BanditSite Site, string[] Arms)> Calls { get; } = [];

        public int Select(in BanditSite site, ReadOnlySpan<string> arms, in RouteRequest request)
        {
            Calls.Add((site, arms.ToArray()));
            return arms.Length - 1;
        }
    }

    [Fact]
    public void Bandit_CallsTheSelectorWithEligibleArms_AndRecordsTheSiteInMetadata()
    {
        var selector = new LastArmSelector();
        var router = Router("""
            policy p():
              route bandit(["openai", "anthropic", "local_llm"], reward = cost, algorithm = linucb)
            """, selector);
        var decision = router.Decide(new RouteRequest { TenantId = "t", AllowedProviders = ImmutableArray.Create("openai", "anthropic") });
        Assert.Equal("anthropic", decision.ProviderId);
        Assert.Equal(RouteReasons.Bandit, decision.Reason);
        Assert.Equal("bandit@p:2:9", decision.Metadata["bandit_site"]);
        Assert.Equal("linucb", decision.Metadata["algorithm"]);
        var (site, arms) = Assert.Single(selector.Calls);
        Assert.Equal(new BanditSite("t", "p", "bandit@p:2:9", BanditAlgorithm.LinUcb, BanditReward.Cost), site);
        Assert.Equal(["openai", "anthropic"], arms);
    }

    [Fact]
    public void Bandit_DefaultsToTheUniformSelector()
    {
        var router = Router("policy p():\n  route bandit([\"openai\", \"anthropic\"])\n");
        var picks = Enumerable.Range(0, 200).Select(_ => router.Decide(new RouteRequest { TenantId = "t" }).ProviderId).ToHashSet();
        Assert.Equal(["anthropic", "openai"], picks.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Conditions_PickTheDirective_AndTheRouterAppliesConstraintsAndFallbacks()
    {
        var router = Router("""
            policy p():
              fallback on(["timeout"], "local_llm", retry = 0)
              if request.message_type == "embedding": route "local_llm"
              route cheapest(["openai", "anthropic"])
            """);
        var embedding = router.Decide(new RouteRequest { TenantId = "t", MessageType = "embedding" });
        Assert.Equal(("local_llm", RouteReasons.Weighted, "p:3:43"), (embedding.ProviderId, embedding.Reason, embedding.Metadata["rule"]));
        var chat = new RouteRequest { TenantId = "t", MessageType = "chat" };
        Assert.Equal(("openai", RouteReasons.Cheapest), (router.Decide(chat).ProviderId, router.Decide(chat).Reason));
        // A cost ceiling below openai's leaves no candidate.
        Assert.Equal(RouteErrorCodes.DecisionFailed, router.Decide(chat with { MaxCost = 0.00001 }).ErrorCode);
        FallbackCursor cursor = default;
        var next = router.DecideFallback(chat, ref cursor, "openai", FailureKinds.Timeout);
        Assert.Equal(("local_llm", RouteReasons.Fallback), (next.ProviderId, next.Reason));
    }

    [Fact]
    public void Tagged_ResolvesAgainstTheCatalog()
    {
        var catalog = new ProviderCatalog(
        [
            new ProviderDescriptor { Id = "a", Tags = ["general"], InputPricePer1K = 0.002 },
            new ProviderDescriptor { Id = "b", Tags = ["general"], InputPricePer1K = 0.001 },
            new ProviderDescriptor { Id = "c", Tags = ["vision"] },
        ]);
        var router = Router("policy p():\n  if request.message_type == \"x\": route cheapest(tagged(\"nobody\"))\n  route cheapest(tagged(\"general\"))\n", catalog: catalog);
        Assert.Equal("b", router.Decide(new RouteRequest { TenantId = "t" }).ProviderId);
        // A tag nobody carries routes nowhere (not to every provider).
        Assert.Equal(RouteErrorCodes.DecisionFailed, router.Decide(new RouteRequest { TenantId = "t", MessageType = "x" }).ErrorCode);
    }

    [Fact]
    public void StepBudget_FailsTheDecision_NeverHangs()
    {
        var router = Router("""
            def fib(n): n if n < 2 else fib(n - 1) + fib(n - 2)
            policy p():
              if fib(request.input_tokens) > 0: route "openai"
            """, options: new RouterOptions { DefaultPolicyId = "p", PolicyStepBudget = 1_000 });
        var decision = router.Decide(new RouteRequest { TenantId = "t", InputTokens = 80 });
        Assert.Equal(RouteErrorCodes.DecisionFailed, decision.ErrorCode);
        Assert.Contains("step budget of 1000 steps is spent", decision.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("openai", router.Decide(new RouteRequest { TenantId = "t", InputTokens = 5 }).ProviderId);
    }

    [Fact]
    public void Sticky_KeepsTheSessionsProvider()
    {
        var router = Router("policy p():\n  route sticky(split({\"openai\": 1, \"anthropic\": 1}), key = \"user_id\")\n");
        var first = router.Decide(new RouteRequest { TenantId = "t", UserId = "u1" });
        for (var i = 0; i < 20; i++)
        {
            var again = router.Decide(new RouteRequest { TenantId = "t", UserId = "u1" });
            Assert.Equal((first.ProviderId, RouteReasons.Sticky), (again.ProviderId, again.Reason));
        }
    }

    [Fact]
    public void UpdatePolicies_SwapsALanguagePolicyLive()
    {
        var router = Router("policy p():\n  route \"openai\"\n");
        Assert.Equal("openai", router.Decide(new RouteRequest { TenantId = "t" }).ProviderId);
        router.UpdatePolicies(new PolicySet([PolicyLanguage.Load("p", "policy p():\n  route \"anthropic\"\n").Policy!]));
        Assert.Equal("anthropic", router.Decide(new RouteRequest { TenantId = "t" }).ProviderId);
    }
}
