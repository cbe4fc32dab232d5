using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Beamline.Cp1;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;

namespace Beamline.Benchmarks;

/// <summary>
/// In-process decide: policy lookup + route (target: median &lt; 5 µs, no allocation), with the
/// CP1 default policy (70/30 weights, sticky on user_id, fallbacks); and the whole CP1 decide
/// (parse the task-form fixture, decide, write the reply) for comparison.
/// </summary>
[MemoryDiagnoser]
public class DecideBenchmarks
{
    private const string DefaultPolicy = """
        {
          "version": "1.0",
          "providers": [{"name": "openai", "weight": 70}, {"name": "anthropic", "weight": 30}],
          "fallbacks": [
            {"when": {"status": ["timeout", "5xx"]}, "retry": 2, "to": "anthropic"},
            {"when": {"status": ["rate_limited"]}, "retry": 1, "to": "local_llm"}
          ],
          "sticky": {"enabled": true, "session_key": "user_id", "ttl": "10m"}
        }
        """;

    private const string BreakerPolicy = """
        {
          "providers": [{"name": "openai", "weight": 70}, {"name": "anthropic", "weight": 30}],
          "circuit_breaker": {"enabled": true, "failure_threshold": 5, "success_threshold": 2, "timeout_ms": 60000, "half_open_max_calls": 3},
          "fallbacks": [{"when": {"status": ["circuit_breaker_open", "timeout", "5xx"]}, "to": "anthropic"}]
        }
        """;

    private static readonly byte[] TaskForm = """
        {"version":"1","tenant_id":"tenant_abc123","request_id":"7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71","trace_id":"trace_abc123",
         "task":{"type":"chat","payload":{"text":"Summarise the attached incident report.","role":"user"}},
         "policy_id":"default","constraints":{"max_cost":0.02,"max_latency_ms":1500},"metadata":{"source":"gateway"},
         "context":{"user_id":"user_123","session_id":"session_456"}}
        """u8.ToArray();

    private Router _router = null!;
    private RouteRequest _weighted;
    private RouteRequest _sticky;
    private RouteRequest _breaker;
    private ArrayBufferWriter<byte> _buffer = null!;
    private Utf8JsonWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var catalog = new ProviderCatalog(
        [
            new ProviderDescriptor { Id = "openai", Kind = ProviderKind.OpenAI, InputPricePer1K = 0.00015, OutputPricePer1K = 0.0006, BaselineLatencyMs = 850 },
            new ProviderDescriptor { Id = "anthropic", Kind = ProviderKind.Anthropic, InputPricePer1K = 0.0008, OutputPricePer1K = 0.004, BaselineLatencyMs = 600 },
            new ProviderDescriptor { Id = "local_llm", Kind = ProviderKind.NatsProvider, BaselineLatencyMs = 2000 },
        ]);
        var policies = new PolicySet(
        [
            PolicyLoader.Load("default", System.Text.Encoding.UTF8.GetBytes(DefaultPolicy)).Policy!,
            PolicyLoader.Load("breaker", System.Text.Encoding.UTF8.GetBytes(BreakerPolicy)).Policy!,
        ]);
        _router = new Router(catalog, policies, random: new RandomSource(1));
        _weighted = new RouteRequest { TenantId = "tenant_abc123", PolicyId = "default", MessageType = "chat", MaxCost = 0.02, MaxLatencyMs = 1500 };
        _sticky = new RouteRequest { TenantId = "tenant_abc123", PolicyId = "default", MessageType = "chat", UserId = "user_123" };
        _breaker = new RouteRequest { TenantId = "tenant_abc123", PolicyId = "breaker", MessageType = "chat" };
        _router.Decide(_sticky);
        _router.RecordOutcome(new RouteOutcome { TenantId = "tenant_abc123", PolicyId = "breaker", ProviderId = "openai", Failure = FailureKinds.Timeout });
        _buffer = new ArrayBufferWriter<byte>(1024);
        _writer = new Utf8JsonWriter(_buffer);
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    /// <summary>Policy lookup + weighted pick under max_cost/max_latency constraints.</summary>
    [Benchmark(Baseline = true)]
    public string? DecideWeighted() => _router.Decide(_weighted).ProviderId;

    /// <summary>Policy lookup + sticky-session hit.</summary>
    [Benchmark]
    public string? DecideStickyHit() => _router.Decide(_sticky).ProviderId;

    /// <summary>Policy lookup + weighted pick + circuit-breaker checks.</summary>
    [Benchmark]
    public string? DecideWithBreaker() => _router.Decide(_breaker).ProviderId;

    /// <summary>The whole CP1 decide: parse the request, decide, write the reply.</summary>
    [Benchmark]
    public int Cp1ParseDecideWrite()
    {
        var parsed = DecideCodec.Parse(TaskForm);
        var decision = _router.Decide(parsed.Request!.ToRouteRequest());
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        DecideCodec.WriteDecision(_writer, decision, parsed.RequestId, parsed.TraceId);
        _writer.Flush();
        return _buffer.WrittenCount;
    }
}
