using System.Collections.Concurrent;
using Beamline.Routing;
using Beamline.Routing.Bandits;

namespace Beamline.Experiments.Bandits;

/// <summary>
/// The bandit behind the policy language's <c>bandit(...)</c>: Thompson sampling over a Beta
/// posterior of the reward in [0, 1], or LinUCB (disjoint linear models over
/// <see cref="BanditFeatures"/>), as the site asks; both under an exploration floor. Thread-safe.
/// <see cref="Select"/> allocates nothing once a site and its arms are known; rewards arrive off
/// the request path through <see cref="RecordOutcome"/> (success, latency, cost) and
/// <see cref="RecordQuality"/> (feedback), matched to the pick by request id.
/// </summary>
public sealed class BanditSelector : IBanditSelector
{
    private readonly BanditOptions _options;
    private readonly IRandomSource _random;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<SiteKey, BanditSiteState> _sites = new();
    private readonly PendingPick[] _pending;
    private readonly int _pendingMask;

    /// <summary>Creates a selector; a seeded <paramref name="random"/> makes its picks reproducible.</summary>
    public BanditSelector(BanditOptions? options = null, IRandomSource? random = null, TimeProvider? time = null)
    {
        _options = options ?? new BanditOptions();
        if (new BanditOptionsValidator().Validate(null, _options) is { Failed: true } invalid)
        {
            throw new ArgumentException(invalid.FailureMessage, nameof(options));
        }
        _random = random ?? new RandomSource();
        _time = time ?? TimeProvider.System;
        _pending = new PendingPick[_options.PendingCapacity];
        for (var i = 0; i < _pending.Length; i++)
        {
            _pending[i] = new PendingPick();
        }
        _pendingMask = _pending.Length - 1;
    }

    /// <inheritdoc />
    public int Select(in BanditSite site, ReadOnlySpan<string> arms, in RouteRequest request)
    {
        if (arms.Length <= 1)
        {
            return 0;
        }
        var state = State(site);
        Span<double> features = stackalloc double[BanditFeatures.Dimension];
        var linUcb = site.Algorithm == BanditAlgorithm.LinUcb;
        if (linUcb)
        {
            BanditFeatures.Fill(features, request, _time.GetUtcNow().TimeOfDay.TotalHours);
        }
        int pick;
        if (_random.NextDouble() < _options.ExplorationFloor * arms.Length)
        {
            pick = Math.Min(arms.Length - 1, (int)(_random.NextDouble() * arms.Length));
        }
        else
        {
            pick = linUcb ? PickLinUcb(state, arms, features) : PickThompson(state, arms);
        }
        var arm = state.Arm(arms[pick]);
        Interlocked.Increment(ref arm.Pulls);
        if (request.RequestId is { } requestId && !request.DryRun)
        {
            Remember(requestId, state, arm, features);
        }
        return pick;
    }

    /// <summary>
    /// The reward of a finished request's pick, if it is awaited: for <see cref="BanditReward.Success"/>,
    /// 1 when <paramref name="providerId"/> is the picked arm and succeeded, else 0; for latency and
    /// cost, s/(s + x) of the picked arm's call (0 when it failed or another provider answered);
    /// for quality, 0 when it failed, else the pick waits for <see cref="RecordQuality"/>.
    /// </summary>
    public void RecordOutcome(string tenantId, string requestId, string? providerId, bool succeeded, double latencyMs, long costNanos)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(requestId);
        var slot = _pending[requestId.GetHashCode() & _pendingMask];
        lock (slot)
        {
            if (!Awaits(slot, tenantId, requestId) || slot is not { Site: { } site, Arm: { } arm })
            {
                return;
            }
            var answered = succeeded && string.Equals(providerId, arm.Name, StringComparison.Ordinal);
            double reward;
            switch (site.Site.Reward)
            {
                case BanditReward.Quality when answered:
                    return; // the feedback score is the reward
                case BanditReward.Latency:
                    reward = answered ? _options.LatencyScaleMs / (_options.LatencyScaleMs + Math.Max(0, latencyMs)) : 0;
                    break;
                case BanditReward.Cost:
                    reward = answered ? (double)_options.CostScaleNanos / (_options.CostScaleNanos + Math.Max(0, costNanos)) : 0;
                    break;
                default:
                    reward = answered ? 1 : 0;
                    break;
            }
            Learn(slot, reward);
        }
    }

    /// <summary>A feedback score (0..1) for a request of the tenant whose pick awaits a quality reward. False when none awaits it.</summary>
    public bool RecordQuality(string tenantId, string requestId, double score)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(requestId);
        var slot = _pending[requestId.GetHashCode() & _pendingMask];
        lock (slot)
        {
            if (!Awaits(slot, tenantId, requestId) || slot.Site is not { Site.Reward: BanditReward.Quality })
            {
                return false;
            }
            Learn(slot, Math.Clamp(score, 0, 1));
            return true;
        }
    }

    /// <summary>Every site of <paramref name="tenantId"/> (all tenants when null) with its arms' figures.</summary>
    public IReadOnlyList<BanditSiteView> Sites(string? tenantId)
    {
        var views = new List<BanditSiteView>();
        foreach (var state in _sites.Values)
        {
            if (tenantId is not null && state.Site.TenantId != tenantId)
            {
                continue;
            }
            var arms = new List<BanditArmView>();
            lock (state.Lock)
            {
                foreach (var arm in state.Arms)
                {
                    arms.Add(new BanditArmView(arm.Name, Interlocked.Read(ref arm.Pulls), arm.Rewards, arm.Rewards == 0 ? 0 : arm.RewardSum / arm.Rewards));
                }
            }
            views.Add(new BanditSiteView(state.Site, arms));
        }
        views.Sort(static (a, b) => string.CompareOrdinal($"{a.Site.TenantId}/{a.Site.PolicyId}/{a.Site.SiteId}", $"{b.Site.TenantId}/{b.Site.PolicyId}/{b.Site.SiteId}"));
        return views;
    }

    // Request ids are the clients' own: a pick is rewarded only by its own tenant's request.
    private static bool Awaits(PendingPick slot, string tenantId, string requestId)
        => slot.Site is not null && string.Equals(slot.RequestId, requestId, StringComparison.Ordinal)
            && string.Equals(slot.Site.Site.TenantId, tenantId, StringComparison.Ordinal);

    private BanditSiteState State(in BanditSite site)
    {
        var key = new SiteKey(site.TenantId, site.PolicyId, site.SiteId, site.Algorithm);
        if (_sites.TryGetValue(key, out var state) && state.Site.Reward == site.Reward)
        {
            return state;
        }
        return AddSite(key, site);
    }

    // New site, or a reloaded policy that changed the reward: start over. Apart from State so that
    // its closure is not allocated on every pick.
    private BanditSiteState AddSite(SiteKey key, BanditSite site)
    {
        var fresh = new BanditSiteState(site);
        return _sites.AddOrUpdate(key, fresh, (_, existing) => existing.Site.Reward == fresh.Site.Reward ? existing : fresh);
    }

    private int PickThompson(BanditSiteState state, ReadOnlySpan<string> arms)
    {
        var best = 0;
        var bestSample = double.NegativeInfinity;
        for (var i = 0; i < arms.Length; i++)
        {
            var arm = state.Arm(arms[i]);
            var sample = BetaSampler.Sample(_random, arm.Alpha, arm.Beta);
            if (sample > bestSample)
            {
                best = i;
                bestSample = sample;
            }
        }
        return best;
    }

    private int PickLinUcb(BanditSiteState state, ReadOnlySpan<string> arms, ReadOnlySpan<double> x)
    {
        const int D = BanditFeatures.Dimension;
        var best = 0;
        var bestScore = double.NegativeInfinity;
        lock (state.Lock)
        {
            for (var i = 0; i < arms.Length; i++)
            {
                var arm = state.Arm(arms[i]);
                var mean = 0.0;
                var variance = 0.0;
                for (var r = 0; r < D; r++)
                {
                    mean += arm.Theta[r] * x[r];
                    var row = 0.0;
                    for (var c = 0; c < D; c++)
                    {
                        row += arm.InverseA[(r * D) + c] * x[c];
                    }
                    variance += x[r] * row;
                }
                var score = mean + (_options.LinUcbAlpha * Math.Sqrt(Math.Max(0, variance)));
                // Ties (every new arm scores the same) go to a random one rather than the first.
                if (score > bestScore || (score == bestScore && _random.NextDouble() < 0.5))
                {
                    best = i;
                    bestScore = score;
                }
            }
        }
        return best;
    }

    private void Remember(string requestId, BanditSiteState state, BanditArm arm, ReadOnlySpan<double> features)
    {
        var slot = _pending[requestId.GetHashCode() & _pendingMask];
        lock (slot)
        {
            slot.RequestId = requestId;
            slot.Site = state;
            slot.Arm = arm;
            features.CopyTo(slot.Features);
        }
    }

    // Called with the slot locked; empties it.
    private static void Learn(PendingPick slot, double reward)
    {
        var state = slot.Site!;
        var arm = slot.Arm!;
        lock (state.Lock)
        {
            arm.Rewards++;
            arm.RewardSum += reward;
            if (state.Site.Algorithm == BanditAlgorithm.LinUcb)
            {
                UpdateLinUcb(arm, slot.Features, reward);
            }
            else
            {
                arm.Alpha += reward;
                arm.Beta += 1 - reward;
            }
        }
        slot.RequestId = null;
        slot.Site = null;
        slot.Arm = null;
    }

    // Sherman–Morrison: (A + xxᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(xᵀA⁻¹) / (1 + xᵀA⁻¹x); A⁻¹ stays symmetric.
    private static void UpdateLinUcb(BanditArm arm, ReadOnlySpan<double> x, double reward)
    {
        const int D = BanditFeatures.Dimension;
        Span<double> ax = stackalloc double[D];
        var denominator = 1.0;
        for (var r = 0; r < D; r++)
        {
            var sum = 0.0;
            for (var c = 0; c < D; c++)
            {
                sum += arm.InverseA[(r * D) + c] * x[c];
            }
            ax[r] = sum;
            denominator += x[r] * sum;
        }
        for (var r = 0; r < D; r++)
        {
            for (var c = 0; c < D; c++)
            {
                arm.InverseA[(r * D) + c] -= ax[r] * ax[c] / denominator;
            }
            arm.B[r] += reward * x[r];
        }
        for (var r = 0; r < D; r++)
        {
            var sum = 0.0;
            for (var c = 0; c < D; c++)
            {
                sum += arm.InverseA[(r * D) + c] * arm.B[c];
            }
            arm.Theta[r] = sum;
        }
    }

    private readonly record struct SiteKey(string TenantId, string PolicyId, string SiteId, BanditAlgorithm Algorithm);
}
