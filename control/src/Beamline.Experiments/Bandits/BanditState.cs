using Beamline.Routing.Bandits;

namespace Beamline.Experiments.Bandits;

/// <summary>One arm of one bandit site: a Beta posterior (Thompson) and a ridge regression (LinUCB).</summary>
internal sealed class BanditArm
{
    public BanditArm(string name)
    {
        Name = name;
        for (var i = 0; i < BanditFeatures.Dimension; i++)
        {
            InverseA[(i * BanditFeatures.Dimension) + i] = 1; // A = I: ridge prior
        }
    }

    public string Name { get; }

    // Thompson: Beta(1 + Σr, 1 + Σ(1 − r)). Written under the site's lock, read without it.
    public double Alpha = 1;
    public double Beta = 1;

    // LinUCB: A⁻¹ (row-major), b and θ = A⁻¹b; read and written under the site's lock.
    public readonly double[] InverseA = new double[BanditFeatures.Dimension * BanditFeatures.Dimension];
    public readonly double[] B = new double[BanditFeatures.Dimension];
    public readonly double[] Theta = new double[BanditFeatures.Dimension];

    public long Pulls;
    public long Rewards;
    public double RewardSum;
}

/// <summary>The arms of one bandit site (tenant, policy, call, algorithm).</summary>
internal sealed class BanditSiteState(BanditSite site)
{
    private volatile BanditArm[] _arms = [];

    public BanditSite Site { get; } = site;

    public Lock Lock { get; } = new();

    public BanditArm[] Arms => _arms;

    /// <summary>The arm named <paramref name="name"/>, added on first sight (the only allocation, once per arm).</summary>
    public BanditArm Arm(string name)
    {
        var arms = _arms;
        foreach (var arm in arms)
        {
            if (ReferenceEquals(arm.Name, name) || string.Equals(arm.Name, name, StringComparison.Ordinal))
            {
                return arm;
            }
        }
        lock (Lock)
        {
            foreach (var arm in _arms)
            {
                if (string.Equals(arm.Name, name, StringComparison.Ordinal))
                {
                    return arm;
                }
            }
            var added = new BanditArm(name);
            _arms = [.. _arms, added];
            return added;
        }
    }
}

/// <summary>A pick awaiting its reward, in a fixed slot of the pending table. Guarded by locking the slot itself.</summary>
internal sealed class PendingPick
{
    public string? RequestId;
    public BanditSiteState? Site;
    public BanditArm? Arm;
    public readonly double[] Features = new double[BanditFeatures.Dimension];
}

/// <summary>A site's figures, for the admin view.</summary>
/// <param name="Site">The site.</param>
/// <param name="Arms">Its arms: name, picks, rewards received and their mean.</param>
public sealed record BanditSiteView(BanditSite Site, IReadOnlyList<BanditArmView> Arms);

/// <summary>One arm's figures.</summary>
/// <param name="Name">The arm (a provider).</param>
/// <param name="Pulls">How often it was picked.</param>
/// <param name="Rewards">How many rewards arrived for it.</param>
/// <param name="MeanReward">Their mean (0 with none).</param>
public sealed record BanditArmView(string Name, long Pulls, long Rewards, double MeanReward);
