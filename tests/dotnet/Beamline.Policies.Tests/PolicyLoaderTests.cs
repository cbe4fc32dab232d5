using System.Text;
using Beamline.Testing;

namespace Beamline.Policies.Tests;

public sealed class PolicyLoaderTests
{
    private static Policy LoadFixture(string id)
    {
        var result = PolicyLoader.LoadFile(Cp1Fixtures.Policy(id));
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        return result.Policy!;
    }

    private static PolicyLoadResult LoadText(string json, PolicyLoadOptions? options = null) =>
        PolicyLoader.Load("p", Encoding.UTF8.GetBytes(json), "p.json", options);

    private static void AssertError(PolicyLoadResult result, string path, string fragment)
    {
        Assert.False(result.IsValid);
        Assert.True(result.Errors.Any(e => e.Path == path && e.Message.Contains(fragment, StringComparison.Ordinal) && e.File == "p.json"),
            $"expected an error at {path} containing '{fragment}', got:{Environment.NewLine}{string.Join(Environment.NewLine, result.Errors)}");
    }

    public static TheoryData<string> FixtureIds() => [.. Cp1Fixtures.PolicyIds()];

    [Theory]
    [MemberData(nameof(FixtureIds))]
    public void LoadFile_EveryFixture_LoadsWithoutErrors(string id)
    {
        var policy = LoadFixture(id);
        Assert.Equal(id, policy.Id);
        Assert.Equal("1.0", policy.Version);
        Assert.Equal(1.0, policy.Providers.Sum(p => p.Share), 9);
    }

    [Fact]
    public void LoadFile_Default_NormalisesEverySection()
    {
        var policy = LoadFixture("default");
        Assert.Equal(["openai", "anthropic"], policy.Providers.Select(p => p.Name));
        Assert.Equal([0.7, 0.3], policy.Providers.Select(p => Math.Round(p.Share, 9)));
        Assert.Equal(2, policy.Fallbacks.Length);
        Assert.Equal(FailureKinds.Timeout | FailureKinds.ServerError, policy.Fallbacks[0].When);
        Assert.Equal(2, policy.Fallbacks[0].Retry);
        Assert.Equal("anthropic", policy.Fallbacks[0].To);
        Assert.Equal(FailureKinds.RateLimited, policy.Fallbacks[1].When);
        Assert.Equal("local_llm", policy.Fallbacks[1].To);
        Assert.Equal("user_id", policy.Sticky!.SessionKey);
        Assert.Equal(TimeSpan.FromMinutes(10), policy.Sticky.Ttl);
        Assert.Null(policy.CircuitBreaker);
        Assert.Equal("cp1_json_dsl", policy.Metadata["strategy"].GetString());
    }

    [Fact]
    public void LoadFile_Legacy_ReadsWeightsMapFallbackObjectAndTtlSeconds()
    {
        var policy = LoadFixture("legacy_format");
        Assert.Equal([0.7, 0.3], policy.Providers.Select(p => Math.Round(p.Share, 9)));
        var rule = Assert.Single(policy.Fallbacks);
        Assert.True(rule.IsLegacy);
        Assert.Equal(0, rule.Retry);
        Assert.Equal("local_llm", rule.To);
        Assert.Equal(FailureKinds.AllProvidersFailed | FailureKinds.Timeout, rule.When);
        Assert.Equal(TimeSpan.FromHours(1), policy.Sticky!.Ttl);
        Assert.Equal(StickySettings.DefaultSessionKey, policy.Sticky.SessionKey);
    }

    [Fact]
    public void LoadFile_CircuitBreakerBasic_ReadsThresholds()
    {
        var cb = LoadFixture("circuit_breaker_basic").CircuitBreaker!;
        Assert.Equal(5, cb.FailureThreshold);
        Assert.Equal(2, cb.SuccessThreshold);
        Assert.Equal(3, cb.HalfOpenMaxCalls);
        Assert.Equal(TimeSpan.FromSeconds(60), cb.OpenTimeout);
        Assert.Null(cb.ErrorRateThreshold);
        Assert.Equal(TimeSpan.FromSeconds(60), cb.TrialTimeout);
    }

    [Fact]
    public void Load_HalfOpenTrialTimeout_IsReadAndChecked()
    {
        var result = LoadText("""{"weights": {"openai": 1}, "circuit_breaker": {"half_open_trial_timeout_ms": 1500}}""");
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), result.Policy!.CircuitBreaker!.TrialTimeout);

        AssertError(LoadText("""{"weights": {"openai": 1}, "circuit_breaker": {"half_open_trial_timeout_ms": 0}}"""),
            "$.circuit_breaker.half_open_trial_timeout_ms", "≥ 1");
    }

    [Fact]
    public void LoadFile_ExtensionsFull_KeepsStepsInOrderWithModesAndConfig()
    {
        var policy = LoadFixture("extensions_full");
        Assert.Equal(["normalize_text", "add_context"], policy.Pre.Select(s => s.Id));
        Assert.Equal([ExtensionMode.Required, ExtensionMode.Optional], policy.Pre.Select(s => s.Mode));
        Assert.True(policy.Pre[0].Config!.Value.GetProperty("lowercase").GetBoolean());
        Assert.Equal([ValidatorFailAction.Block, ValidatorFailAction.Warn, ValidatorFailAction.Ignore], policy.Validators.Select(s => s.OnFail));
        Assert.All(policy.Validators, s => Assert.Equal(ExtensionStage.Validate, s.Stage));
        Assert.Equal(["mask_pii", "format_response"], policy.Post.Select(s => s.Id));
    }

    [Fact]
    public void Load_MixedForms_MergesProvidersWeightsAndBothFallbackForms()
    {
        var result = LoadText("""
            {
              "providers": [{"name": "openai", "weight": 50}],
              "weights": {"anthropic": 25, "local_llm": 25},
              "fallbacks": [{"when": {"status": ["503"], "message_type": ["chat"]}, "retry": 0, "to": "anthropic"}],
              "fallback": {"provider": "local_llm"},
              "sticky": {"ttl": "1h30m", "ttl_seconds": 5400, "session_key": "session_id"},
              "circuit_breaker": {"error_rate_threshold": 0.5, "error_rate_window_seconds": 30}
            }
            """);
        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        var policy = result.Policy!;
        Assert.Equal(["openai", "anthropic", "local_llm"], policy.Providers.Select(p => p.Name));
        Assert.Equal([0.5, 0.25, 0.25], policy.Providers.Select(p => p.Share));
        Assert.Equal(["chat"], policy.Fallbacks[0].MessageTypes.ToArray());
        Assert.Equal(FailureKinds.Any, policy.Fallbacks[1].When);
        Assert.Equal(TimeSpan.FromMinutes(90), policy.Sticky!.Ttl);
        Assert.Equal(0.5, policy.CircuitBreaker!.ErrorRateThreshold);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.CircuitBreaker.ErrorRateWindow);
    }

    [Fact]
    public void Load_FractionsAndPercents_GiveTheSameShares()
    {
        var fractions = LoadText("""{"weights": {"a": 0.6, "b": 0.4}}""").Policy!;
        var percents = LoadText("""{"providers": [{"name": "a", "weight": 60}, {"name": "b", "weight": 40}]}""").Policy!;
        Assert.Equal(fractions.Providers.Select(p => p.Share), percents.Providers.Select(p => p.Share));
    }

    [Fact]
    public void Load_ManyProblems_ReportsEveryOneWithItsPath()
    {
        var result = LoadText("""
            {
              "providers": [{"name": "a", "weight": -1}, {"weight": 1}, {"name": "b", "weight": "x"}],
              "fallbacks": [
                {"when": {"status": ["timeout"]}, "to": "a"},
                {"when": {"status": ["timeout", "teapot"]}, "retry": 11, "to": ""}
              ],
              "sticky": {"ttl": "10 parsecs"},
              "circuit_breaker": {"failure_threshold": 0, "error_rate_threshold": 2, "timeout_ms": "soon"},
              "validators": [{"id": "v", "on_fail": "explode"}],
              "pre": [{"mode": "required"}]
            }
            """);
        AssertError(result, "$.providers[0].weight", "negative");
        AssertError(result, "$.providers[1].name", "missing");
        AssertError(result, "$.providers[2].weight", "number");
        AssertError(result, "$.fallbacks[1].when.status[1]", "unknown status 'teapot'");
        AssertError(result, "$.fallbacks[1].retry", "0 to 10");
        AssertError(result, "$.fallbacks[1].to", "name a provider");
        AssertError(result, "$.sticky.ttl", "10 parsecs");
        AssertError(result, "$.circuit_breaker.failure_threshold", "≥ 1");
        AssertError(result, "$.circuit_breaker.error_rate_threshold", "(0, 1]");
        AssertError(result, "$.circuit_breaker.timeout_ms", "integer");
        AssertError(result, "$.validators[0].on_fail", "explode");
        AssertError(result, "$.pre[0].id", "missing");
        Assert.Equal(12, result.Errors.Length);
        Assert.Contains("p.json: $.fallbacks[1].when.status[1]: unknown status 'teapot'", result.Errors.Select(e => e.ToString()).First(e => e.Contains("teapot", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AllWeightsZero_IsAnError()
    {
        AssertError(LoadText("""{"weights": {"a": 0, "b": 0}}"""), "$.weights", "all provider weights are zero");
    }

    [Fact]
    public void Load_NoProviders_IsAnError()
    {
        AssertError(LoadText("""{"fallbacks": [{"to": "a"}]}"""), "$", "no providers");
    }

    [Fact]
    public void Load_FallbackWithoutTarget_IsAnError()
    {
        AssertError(LoadText("""{"weights": {"a": 1}, "fallbacks": [{"when": {"status": ["timeout"]}}]}"""), "$.fallbacks[0].to", "missing");
        AssertError(LoadText("""{"weights": {"a": 1}, "fallback": {"conditions": ["timeout"]}}"""), "$.fallback.provider", "missing");
    }

    [Fact]
    public void Load_TargetOutsideKnownProviders_IsAnErrorWhenACatalogIsGiven()
    {
        var options = new PolicyLoadOptions { KnownProviders = new HashSet<string> { "a" } };
        AssertError(LoadText("""{"weights": {"a": 1}, "fallbacks": [{"to": "ghost"}]}""", options), "$.fallbacks[0].to", "unknown provider 'ghost'");
        Assert.True(LoadText("""{"weights": {"a": 1}, "fallbacks": [{"to": "ghost"}]}""").IsValid);
    }

    [Fact]
    public void Load_SameProviderWithTwoWeights_IsAnError()
    {
        AssertError(LoadText("""{"providers": [{"name": "a", "weight": 1}], "weights": {"a": 2}}"""), "$.weights.a", "two different weights");
    }

    [Fact]
    public void Load_TtlAndTtlSecondsDisagree_IsAnError()
    {
        AssertError(LoadText("""{"weights": {"a": 1}, "sticky": {"ttl": "10m", "ttl_seconds": 60}}"""), "$.sticky.ttl_seconds", "disagrees");
    }

    [Theory]
    [InlineData("\"10\"", "no unit")]
    [InlineData("\"-5s\"", "not a duration")]
    [InlineData("\"0s\"", "positive")]
    [InlineData("\"\"", "empty")]
    [InlineData("true", "duration")]
    [InlineData("-3", "positive")]
    public void Load_BadTtl_IsAnError(string ttl, string fragment)
    {
        AssertError(LoadText("{\"weights\": {\"a\": 1}, \"sticky\": {\"ttl\": " + ttl + "}}"), "$.sticky.ttl", fragment);
    }

    [Fact]
    public void Load_NotJson_NamesTheLine()
    {
        AssertError(LoadText("{\n  \"weights\": {\"a\": 1,,}\n}"), "$", "line 2");
    }

    [Fact]
    public void Load_StickyDisabled_HasNoStickySettings()
    {
        Assert.Null(LoadText("""{"weights": {"a": 1}, "sticky": {"enabled": false, "ttl": "1m"}}""").Policy!.Sticky);
    }

    [Fact]
    public void Load_CheapestWithoutProviders_IsValid()
    {
        var policy = LoadText("""{"strategy": "cheapest"}""").Policy!;
        Assert.Equal(RoutingStrategy.Cheapest, policy.Strategy);
        Assert.Empty(policy.Providers);
    }

    [Fact]
    public void LoadDirectory_Fixtures_LoadsEveryPolicy()
    {
        var set = PolicySet.LoadDirectory(Cp1Fixtures.Policies);
        Assert.Equal(Cp1Fixtures.PolicyIds().Count(), set.Count);
        Assert.True(set.TryGet("default", out _));
    }

    private const string Punctuation = "{}[],:\"-0123456789aez \\";

    [Fact]
    public void Load_RandomMutationsOfFixtures_NeverThrow()
    {
        var random = new Random(1234);
        var sources = Cp1Fixtures.PolicyIds().Select(id => File.ReadAllBytes(Cp1Fixtures.Policy(id))).ToArray();
        for (var i = 0; i < 5_000; i++)
        {
            var bytes = (byte[])sources[random.Next(sources.Length)].Clone();
            var edits = random.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                var at = random.Next(bytes.Length);
                bytes[at] = random.Next(3) switch
                {
                    0 => (byte)random.Next(256),
                    1 => (byte)Punctuation[random.Next(Punctuation.Length)],
                    _ => 0x80,
                };
            }
            var length = random.Next(4) == 0 ? random.Next(bytes.Length) : bytes.Length;
            var result = PolicyLoader.Load("fuzz", bytes.AsSpan(0, length));
            Assert.True(result.IsValid ^ !result.Errors.IsEmpty);
        }
    }
}
