namespace Beamline.Routing.Bandits;

/// <summary>
/// Picks the arm of a policy's <c>bandit(...)</c> site and learns from what each pick earned.
/// The router calls <see cref="Select"/> on the request path (keep it allocation-free and
/// well under 2 µs); rewards arrive later, off the request path, from the accounting of the
/// finished request and from <c>POST /v1/feedback</c>.
/// </summary>
public interface IBanditSelector
{
    /// <summary>
    /// The index into <paramref name="arms"/> to route to. <paramref name="arms"/> holds only
    /// eligible arms (breakers, allowed providers and constraints already applied; never empty).
    /// </summary>
    int Select(in BanditSite site, ReadOnlySpan<string> arms, in RouteRequest request);
}

/// <summary>Where a bandit sits: one per tenant, policy and <c>bandit(...)</c> call in it.</summary>
/// <param name="TenantId">The tenant whose traffic and rewards this bandit learns from.</param>
/// <param name="PolicyId">The policy that holds the call.</param>
/// <param name="SiteId">Which call in the policy (stable across reloads of an unchanged policy, e.g. "bandit@12:9").</param>
/// <param name="Algorithm">How arms are picked.</param>
/// <param name="Reward">What a pick is rewarded for.</param>
public readonly record struct BanditSite(string TenantId, string PolicyId, string SiteId, BanditAlgorithm Algorithm, BanditReward Reward);

/// <summary>How a bandit picks an arm.</summary>
public enum BanditAlgorithm
{
    /// <summary>Thompson sampling (Beta–Bernoulli on the reward scaled to [0, 1]).</summary>
    Thompson,

    /// <summary>Contextual LinUCB over the request's features.</summary>
    LinUcb,
}

/// <summary>What a bandit's arm is rewarded for.</summary>
public enum BanditReward
{
    /// <summary>The quality score of <c>POST /v1/feedback</c> (0..1).</summary>
    Quality,

    /// <summary>Success of the attempt (1) or failure (0).</summary>
    Success,

    /// <summary>Low latency (reward falls with latency).</summary>
    Latency,

    /// <summary>Low cost (reward falls with cost).</summary>
    Cost,
}

/// <summary>
/// The selector used when none is configured: uniform over the eligible arms. It learns nothing;
/// the host replaces it with the experiments component's Thompson/LinUCB selector.
/// </summary>
public sealed class UniformBanditSelector(IRandomSource? random = null) : IBanditSelector
{
    private readonly IRandomSource _random = random ?? RandomSource.Shared;

    /// <inheritdoc/>
    public int Select(in BanditSite site, ReadOnlySpan<string> arms, in RouteRequest request) =>
        arms.Length <= 1 ? 0 : Math.Min(arms.Length - 1, (int)(_random.NextDouble() * arms.Length));
}
