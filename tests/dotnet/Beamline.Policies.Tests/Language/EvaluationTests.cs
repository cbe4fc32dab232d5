using Beamline.Policies.Language;
using static Beamline.Policies.Tests.Language.LanguageTestKit;

namespace Beamline.Policies.Tests.Language;

public sealed class EvaluationTests
{
    private const string Triage = """
        policy p(budget = 0.01):
          let sla = request.latency_sla
          if request.constraints.max_cost < budget: route cheapest(["openai", "local_llm"])
          elif sla < 500ms:                          route fastest(["claude-haiku", "gpt-4o-mini"])
          else:                                      route bandit(["gpt-4o", "claude-sonnet"], reward = quality)
          fallback ["local-llama"]
        """;

    [Fact]
    public void IfElifElse_PicksTheFirstTrueBranch_AndAppendsTheFallbacks()
    {
        var program = Program(Triage);
        Assert.Equal("cheapest(openai, local_llm) fallback[any failure retry=0 -> local-llama]", Route(program, Input(maxCost: 0.001)));
        Assert.StartsWith("fastest(claude-haiku, gpt-4o-mini)", Route(program, Input(maxCost: 1, sla: 200)), StringComparison.Ordinal);
        Assert.StartsWith("bandit(gpt-4o, claude-sonnet) algorithm=thompson reward=quality site=bandit@p:5:52", Route(program, Input()), StringComparison.Ordinal);
    }

    [Fact]
    public void Match_ComparesTheSubjectWithEachCase_AndUnderscoreTakesTheRest()
    {
        var program = Program("""
            policy p():
              match request.message_type:
                case "chat", "completion":
                  route "openai"
                case "embedding": route "local"
                case _: route "anthropic"
            """);
        Assert.Equal("split(openai)", Route(program, Input("completion")));
        Assert.Equal("split(local)", Route(program, Input("embedding")));
        Assert.Equal("split(anthropic)", Route(program, Input(null)));
    }

    [Fact]
    public void LetFunctionsAndConditionalExpressions_Evaluate()
    {
        var program = Program("""
            def big(n): n > 1000
            def tier_of(t): "premium" if t == "gold" or t == "platinum" else "basic"
            policy p():
              let tier = tier_of(request.context["tier"])
              if big(request.input_tokens) and tier == "premium": route "claude-opus"
              if tier in ["basic"] and not big(request.input_tokens): route "small"
              route "medium"
            """);
        Assert.Equal("split(claude-opus)", Route(program, Input(tokens: 5000, tier: "gold")));
        Assert.Equal("split(small)", Route(program, Input(tokens: 10, tier: null)));
        Assert.Equal("split(medium)", Route(program, Input(tokens: 5000)));
    }

    [Fact]
    public void StepBudget_StopsARunawayRecursion_WithAClearError()
    {
        var program = Program("""
            def fib(n): n if n < 2 else fib(n - 1) + fib(n - 2)
            policy p():
              if fib(request.input_tokens) > 0: route "a"
              route "b"
            """);
        Assert.Equal("split(a)", Route(program, Input(tokens: 10)));
        var spent = Route(program, Input(tokens: 60));
        Assert.Contains("step budget of 10000 steps is spent", spent, StringComparison.Ordinal);
        Assert.Contains("failed at 1:", spent, StringComparison.Ordinal);
        Assert.Contains("step budget of 50 steps", Route(program, Input(tokens: 10), budget: 50), StringComparison.Ordinal);
    }

    [Fact]
    public void CallDepth_IsBounded()
    {
        var program = Program("""
            def down(n): down(n + 1)
            policy p():
              if down(request.input_tokens): route "a"
            """);
        Assert.Contains("calls nest deeper than 128", Route(program, Input()), StringComparison.Ordinal);
    }

    [Fact]
    public void RuntimeTypeError_FailsTheDecisionAtItsLineAndColumn()
    {
        var program = Program("""
            policy p():
              if request.message_type + 1 > 2: route "a"
            """);
        Assert.Contains("failed at 2:27: cannot add a string and a number", Route(program, Input()), StringComparison.Ordinal);
        Assert.Contains("reached its end without a route", Route(Program("policy p():\n  if false: route \"a\"\n"), Input()), StringComparison.Ordinal);
    }

    [Fact]
    public void Composition_UseInlinesAnotherPolicy_AndATemplateTakesParameters()
    {
        var program = Program("""
            policy p():
              if request.message_type == "embedding": use tier("local", weight = 3)
              use tier("cloud")
            """, ("tier", """
            policy tier(tag, weight = 1):
              fallback on(["timeout"], "spare", retry = 2)
              if weight > 2: route split({"x": weight, "y": 1})
              route cheapest(tagged(tag))
            """));
        Assert.Equal("split(x 75%, y 25%) fallback[timeout retry=2 -> spare]", Route(program, Input("embedding")));
        Assert.Equal("cheapest(tagged(\"cloud\")) fallback[timeout retry=2 -> spare]", Route(program, Input()));
        Assert.Equal("p:3:3/tier:4:3", program.Directives[^1].Location);
    }

    [Fact]
    public void Template_AloneIsRefusedPerRequest_ButLoads()
    {
        var set = Set(("tier", "policy tier(tag):\n  route cheapest(tagged(tag))\n"));
        Assert.True(set.TryGetProgram("tier", out var program));
        Assert.Contains("is a template", Route(program!, Input()), StringComparison.Ordinal);
    }

    [Fact]
    public void CompositionCycle_IsRefusedAtLoad_WithTheCycleNamed()
    {
        var set = Set(
            ("a", "policy a():\n  use b\n"),
            ("b", "policy b():\n  if true: use c\n  route \"x\"\n"),
            ("c", "policy c():\n  use a\n"),
            ("ok", "policy ok():\n  route \"x\"\n"));
        Assert.Equal(3, set.Errors.Length);
        var error = set.LeftOut["a"];
        Assert.Equal("composition cycle: a -> b -> c -> a", error.Message);
        Assert.Equal((2, 3), (error.Line, error.Column));
        Assert.False(set.TryGet("a", out _));
        Assert.True(set.TryGet("ok", out _));

        // A policy that uses itself is refused as soon as it is loaded.
        Assert.Equal("composition cycle: s -> s", LoadError("policy s():\n  use s\n", "s").Message);
        Assert.Contains("unknown policy 'ghost'", Assert.Single(Set(("g", "policy g():\n  use ghost\n")).Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadDirectory_RefusesACycle()
    {
        var folder = Directory.CreateTempSubdirectory("bpl").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "a.bpl"), "policy a():\n  use b\n");
            File.WriteAllText(Path.Combine(folder, "b.bpl"), "policy b():\n  use a\n");
            var error = Assert.Throws<PolicyValidationException>(() => PolicySet.LoadDirectory(folder));
            Assert.Contains("composition cycle: a -> b -> a", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Builtins_BuildTheirDirectives()
    {
        var program = Program("""
            policy p():
              with circuit_breaker(failure_threshold = 3, timeout = 30s)
              with validator("pii_guard", on_fail = "warn")
              with pre("normalize", mode = "optional", config = {"lowercase": true})
              fallback on(["5xx", "rate_limited"], "local", retry = 1, message_types = ["chat"])
              match request.message_type:
                case "a": route fastest(["x", "y"])
                case "b": route best_quality(["x", "y"])
                case "c": route sticky(split({"x": 1, "y": 3}), key = "user_id", ttl = 15m)
                case "d": route bandit(["x", "y"], reward = latency, algorithm = linucb)
                case "e": route ["x", "y"]
                case "f": route sticky("x")
            """);
        const string Fallback = " fallback[5xx, rate_limited types=chat retry=1 -> local]";
        Assert.Equal("fastest(x, y)" + Fallback, Route(program, Input("a")));
        Assert.Equal("best_quality(x, y)" + Fallback, Route(program, Input("b")));
        Assert.Equal("split(x 25%, y 75%) sticky(key=user_id, ttl=900s)" + Fallback, Route(program, Input("c")));
        Assert.Equal("bandit(x, y) algorithm=linucb reward=latency site=bandit@p:10:21" + Fallback, Route(program, Input("d")));
        Assert.Equal("split(x 50%, y 50%)" + Fallback, Route(program, Input("e")));
        Assert.Equal("split(x) sticky(key=session_id, ttl=600s)" + Fallback, Route(program, Input("f")));

        var policy = Load("p", program.Directives.Length > 0 ? """
            policy p():
              with circuit_breaker(failure_threshold = 3, timeout = 30s)
              with validator("pii_guard", on_fail = "warn")
              with metadata({"owner": "ops"})
              with version("2.0")
              route "x"
            """ : "");
        Assert.Equal(3, policy.CircuitBreaker!.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.CircuitBreaker.OpenTimeout);
        Assert.Equal(ValidatorFailAction.Warn, Assert.Single(policy.Validators).OnFail);
        Assert.Equal("ops", policy.Metadata["owner"].GetString());
        Assert.Equal("2.0", policy.Version);
    }

    [Fact]
    public void Bandit_SiteIdsDifferPerUseChain()
    {
        var program = Program("""
            policy p():
              if request.user_id == "u1": use arms
              use arms
            """, ("arms", "policy arms():\n  route bandit([\"x\", \"y\"])\n"));
        Assert.Equal(["bandit@p:2:31/arms:2:9", "bandit@p:3:3/arms:2:9"], program.Directives.Select(d => d.Bandit!.SiteId));
    }

    [Fact]
    public void UseOfAJsonPolicy_RoutesLikeIt()
    {
        var json = PolicyLoader.Load("cp1", """{"providers": [{"name": "openai", "weight": 70}, {"name": "anthropic", "weight": 30}], "fallbacks": [{"when": {"status": ["timeout"]}, "to": "local"}]}"""u8).Policy!;
        var set = new PolicySet([json, Load("p", "policy p():\n  use cp1\n  fallback [\"last\"]\n")]);
        Assert.True(set.TryGetProgram("p", out var program));
        Assert.Equal("split(openai 70%, anthropic 30%) fallback[timeout retry=1 -> local] fallback[any failure retry=0 -> last]", Route(program!, Input()));
    }

    [Fact]
    public void Payload_AndContext_AreReadable()
    {
        var program = Program("""
            policy p():
              if contains(lower(request.payload), "refund") or request.context.tier == "gold": route "support"
              route "general"
            """);
        var input = Input();
        input.Payload = "Please REFUND me"u8.ToArray();
        Assert.Equal("split(support)", Route(program, input));
        Assert.Equal("split(general)", Route(program, Input()));
        Assert.Equal("split(support)", Route(program, Input(tier: "gold")));
    }
}
