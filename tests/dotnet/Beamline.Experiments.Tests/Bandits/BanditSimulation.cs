using Beamline.Experiments.Bandits;
using Beamline.Routing;
using Beamline.Routing.Bandits;

namespace Beamline.Experiments.Tests.Bandits;

/// <summary>Bernoulli arms with known means, pulled through the selector's public path (Select, then the reward by request id).</summary>
internal static class BanditSimulation
{
    public static readonly string[] Arms = ["a", "b", "c"];

    public static BanditSite Site(BanditAlgorithm algorithm, BanditReward reward = BanditReward.Success) => new("t1", "p", "bandit@1:1", algorithm, reward);

    /// <summary>Pulls <paramref name="pulls"/> times; returns the pseudo-regret Σ(μ* − μ_pick) and how often each arm was picked.</summary>
    public static (double Regret, int[] Picks) Run(BanditSelector selector, BanditSite site, double[] means, int pulls, int seed)
    {
        var outcomes = new Random(seed);
        var best = means.Max();
        var regret = 0.0;
        var picks = new int[means.Length];
        var arms = Arms.AsSpan(0, means.Length);
        for (var t = 0; t < pulls; t++)
        {
            var request = new RouteRequest { TenantId = "t1", PolicyId = "p", RequestId = $"r{t}", MessageType = "chat" };
            var pick = selector.Select(site, arms, request);
            picks[pick]++;
            regret += best - means[pick];
            selector.RecordOutcome("t1", request.RequestId!, arms[pick], outcomes.NextDouble() < means[pick], 100, 1000);
        }
        return (regret, picks);
    }
}
