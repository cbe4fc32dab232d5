using BenchmarkDotNet.Attributes;
using Beamline.Experiments;
using Beamline.Experiments.Bandits;
using Beamline.Routing;
using Beamline.Routing.Bandits;

namespace Beamline.Benchmarks;

/// <summary>
/// A bandit pick on the request path (target: &lt; 2 µs, no allocation): three eligible arms whose
/// posteriors have learned from 10,000 rewards, the pick remembered for its reward. Thompson draws
/// six gamma variates; LinUCB scores three 8-feature linear models under the site's lock. Also the
/// sticky assignment of an experiment's arm (the routing hook's own cost).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class BanditBenchmarks
{
    private static readonly string[] Arms = ["openai", "anthropic", "local_llm"];
    private readonly BanditSite _thompson = new("tenant_bench", "chat", "bandit@3:9", BanditAlgorithm.Thompson, BanditReward.Success);
    private readonly BanditSite _linUcb = new("tenant_bench", "chat", "bandit@7:9", BanditAlgorithm.LinUcb, BanditReward.Success);
    private BanditSelector _selector = null!;
    private Experiment _experiment = null!;
    private RouteRequest _request;

    [GlobalSetup]
    public void Setup()
    {
        _selector = new BanditSelector(random: new RandomSource(1));
        var outcomes = new Random(1);
        double[] means = [0.6, 0.7, 0.5];
        for (var i = 0; i < 10_000; i++)
        {
            foreach (var site in (ReadOnlySpan<BanditSite>)[_thompson, _linUcb])
            {
                var request = new RouteRequest { TenantId = "tenant_bench", RequestId = $"warm-{i}", MessageType = i % 2 == 0 ? "chat" : "completion", InputTokens = 100 + (i % 900) };
                var pick = _selector.Select(site, Arms, request);
                _selector.RecordOutcome("tenant_bench", request.RequestId!, Arms[pick], outcomes.NextDouble() < means[pick], 100, 1_000);
            }
        }
        _request = new RouteRequest { TenantId = "tenant_bench", PolicyId = "chat", RequestId = "req-bench-0001", MessageType = "chat", InputTokens = 420, UserId = "user-42" };
        _experiment = new Experiment(new ExperimentDefinition
        {
            Id = "exp-bench",
            TenantId = "tenant_bench",
            PolicyId = "chat",
            Arms = [new ExperimentArm { Name = "control", ProviderId = "openai", WeightBasisPoints = 9_500 }, new ExperimentArm { Name = "canary", ProviderId = "anthropic", WeightBasisPoints = 500 }],
        }, DateTimeOffset.UnixEpoch);
    }

    /// <summary>Thompson sampling over three arms.</summary>
    [Benchmark(Baseline = true)]
    public int Thompson() => _selector.Select(_thompson, Arms, _request);

    /// <summary>LinUCB over three arms and the request's 8 features.</summary>
    [Benchmark]
    public int LinUcb() => _selector.Select(_linUcb, Arms, _request);

    /// <summary>An experiment's sticky arm for a user (hash of experiment id and user id).</summary>
    [Benchmark]
    public int ExperimentArm() => _experiment.ArmFor("user-42");
}
