using System.Text;
using BenchmarkDotNet.Attributes;
using Beamline.Policies;
using Beamline.Policies.Language;
using Beamline.Routing;
using Beamline.Routing.Catalog;

namespace Beamline.Benchmarks;

/// <summary>
/// A compiled 20-rule language policy (target: evaluation &lt; 1 µs median): evaluation alone,
/// for the last rule (all 20 conditions tested) and the first; and the full <c>Router.Decide</c>
/// through it, beside the same router deciding a CP1 JSON policy.
/// </summary>
[MemoryDiagnoser]
public class PolicyLanguageBenchmarks
{
    private PolicyProgram _program = null!;
    private PolicyInput _last = null!;
    private PolicyInput _first = null!;
    private Router _router = null!;
    private RouteRequest _lastRequest;
    private RouteRequest _jsonRequest;

    /// <summary>Twenty rules on the message type, tokens, a context value and the cost ceiling; then a split.</summary>
    public static string TwentyRules()
    {
        var source = new StringBuilder("def big(n): n > 4000\npolicy rules(budget = 0.01):\n  fallback on([\"timeout\", \"5xx\"], \"local_llm\", retry = 1)\n");
        for (var i = 0; i < 20; i++)
        {
            source.Append(i == 0 ? "  if " : "  elif ")
                .Append((i % 4) switch
                {
                    0 => $"request.message_type == \"type{i}\" and request.input_tokens > {i * 10}",
                    1 => $"request.context[\"tier\"] == \"tier{i}\" or big(request.input_tokens + {i})",
                    2 => $"request.constraints.max_cost < budget / {i} and request.user_id in [\"vip{i}\", \"ops{i}\"]",
                    _ => $"request.latency_sla < {i * 10}ms and not request.message_type == \"chat\"",
                })
                .Append(": route ")
                .Append(i % 2 == 0 ? $"cheapest([\"openai\", \"anthropic\"])" : "\"local_llm\"")
                .Append('\n');
        }
        source.Append("  else: route split({\"openai\": 70, \"anthropic\": 30})\n");
        return source.ToString();
    }

    [GlobalSetup]
    public void Setup()
    {
        var language = PolicyLanguage.Load("rules", TwentyRules());
        var json = PolicyLoader.Load("json", """{"providers": [{"name": "openai", "weight": 70}, {"name": "anthropic", "weight": 30}]}"""u8).Policy!;
        var set = new PolicySet([language.Policy ?? throw new InvalidOperationException(string.Join("\n", language.Errors)), json]);
        set.TryGetProgram("rules", out var program);
        _program = program!;
        var context = new Dictionary<string, string> { ["tier"] = "basic" };
        _last = new PolicyInput { MessageType = "chat", InputTokens = 1000, UserId = "user_123", MaxCost = 0.02, MaxLatencyMs = 1500, Context = context };
        _first = new PolicyInput { MessageType = "type0", InputTokens = 1000 };
        var catalog = new ProviderCatalog(
        [
            new ProviderDescriptor { Id = "openai", Kind = ProviderKind.OpenAI, InputPricePer1K = 0.00015, OutputPricePer1K = 0.0006, BaselineLatencyMs = 850 },
            new ProviderDescriptor { Id = "anthropic", Kind = ProviderKind.Anthropic, InputPricePer1K = 0.0008, OutputPricePer1K = 0.004, BaselineLatencyMs = 600 },
            new ProviderDescriptor { Id = "local_llm", Kind = ProviderKind.NatsProvider, BaselineLatencyMs = 2000 },
        ]);
        _router = new Router(catalog, set, random: new RandomSource(1));
        _lastRequest = new RouteRequest
        {
            TenantId = "tenant_abc123", PolicyId = "rules", MessageType = "chat", InputTokens = 1000, UserId = "user_123",
            MaxCost = 0.02, MaxLatencyMs = 1500, Context = context,
        };
        _jsonRequest = _lastRequest with { PolicyId = "json" };
        if (_program.Evaluate(_last).Directive != _program.Directives.Length - 1 || !_router.Decide(_lastRequest).IsSuccess)
        {
            throw new InvalidOperationException("the last-rule request must reach the final split");
        }
    }

    /// <summary>
    /// CPU time per operation (process CPU time over 200,000 calls, median of 15 rounds after a
    /// warm-up): on a machine shared by many processes, wall time per call mostly measures the
    /// waits for a core, CPU time does not. Run with <c>-- --policy-cpu-time</c>.
    /// </summary>
    public static void ReportCpuTime()
    {
        var bench = new PolicyLanguageBenchmarks();
        bench.Setup();
        (string Name, Action Call)[] cases =
        [
            (nameof(Evaluate20RulesLast), () => bench.Evaluate20RulesLast()),
            (nameof(Evaluate20RulesFirst), () => bench.Evaluate20RulesFirst()),
            (nameof(Decide20RulesLast), () => bench.Decide20RulesLast()),
            (nameof(DecideJsonSplit), () => bench.DecideJsonSplit()),
        ];
        const int Calls = 200_000;
        foreach (var (name, call) in cases)
        {
            for (var i = 0; i < Calls; i++)
            {
                call();
            }
            var rounds = new double[15];
            for (var round = 0; round < rounds.Length; round++)
            {
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                var start = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                for (var i = 0; i < Calls; i++)
                {
                    call();
                }
                rounds[round] = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - start).TotalNanoseconds / Calls;
                if (GC.GetAllocatedBytesForCurrentThread() - allocated > 1024)
                {
                    Console.WriteLine($"{name}: allocates");
                }
            }
            Array.Sort(rounds);
            Console.WriteLine($"{name}: median {rounds[rounds.Length / 2]:0} ns CPU per call (min {rounds[0]:0}, max {rounds[^1]:0})");
        }
    }

    /// <summary>Evaluation alone, all 20 conditions tested.</summary>
    [Benchmark]
    public int Evaluate20RulesLast() => _program.Evaluate(_last).Directive;

    /// <summary>Evaluation alone, the first rule matches.</summary>
    [Benchmark]
    public int Evaluate20RulesFirst() => _program.Evaluate(_first).Directive;

    /// <summary>Router.Decide through the 20-rule policy (evaluation + the weighted pick).</summary>
    [Benchmark]
    public string? Decide20RulesLast() => _router.Decide(_lastRequest).ProviderId;

    /// <summary>The same router deciding a CP1 JSON policy with the same split, for comparison.</summary>
    [Benchmark(Baseline = true)]
    public string? DecideJsonSplit() => _router.Decide(_jsonRequest).ProviderId;
}
