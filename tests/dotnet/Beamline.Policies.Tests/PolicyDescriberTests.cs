using Beamline.Testing;

namespace Beamline.Policies.Tests;

public sealed class PolicyDescriberTests
{
    private static string Describe(string id) => PolicyDescriber.Describe(PolicyLoader.LoadOrThrow(Cp1Fixtures.Policy(id)));

    [Fact]
    public void Describe_Default_SaysWeightsStickyAndFallbackChain()
    {
        var text = Describe("default");
        Assert.Contains("openai: 70%", text, StringComparison.Ordinal);
        Assert.Contains("anthropic: 30%", text, StringComparison.Ordinal);
        Assert.Contains("same 'user_id' keep their provider for 10 minutes", text, StringComparison.Ordinal);
        Assert.Contains("1. on timeout, 5xx: retry the failing provider 2 times, then switch to anthropic", text, StringComparison.Ordinal);
        Assert.Contains("2. on rate_limited: retry the failing provider once, then switch to local_llm", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_CircuitBreaker_SaysThresholds()
    {
        var text = Describe("circuit_breaker_basic");
        Assert.Contains("opens after 5 consecutive failures", text, StringComparison.Ordinal);
        Assert.Contains("stays open 1 minute", text, StringComparison.Ordinal);
        Assert.Contains("3 trial call(s)", text, StringComparison.Ordinal);
        Assert.Contains("2 success(es) close it", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_Extensions_ListsEveryStage()
    {
        var text = Describe("extensions_full");
        Assert.Contains("Pre-processing: normalize_text (required), add_context (optional).", text, StringComparison.Ordinal);
        Assert.Contains("pii_guard (blocks on failure)", text, StringComparison.Ordinal);
        Assert.Contains("Post-processing: mask_pii (required)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_Legacy_SaysTheImmediateFallback()
    {
        Assert.Contains("on timeout, all_providers_failed: switch at once to local_llm (legacy fallback)", Describe("legacy_format"), StringComparison.Ordinal);
    }
}
