using Microsoft.Extensions.Options;

namespace Beamline.Experiments.Bandits;

/// <summary>Bandit settings (the <c>Beamline:Bandits</c> section).</summary>
public sealed class BanditOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Bandits";

    /// <summary>
    /// The exploration floor: the least share of picks every eligible arm gets, whatever the
    /// algorithm believes (with K arms, a pick is uniform with probability K × floor). Defaults to 0.01.
    /// </summary>
    public double ExplorationFloor { get; set; } = 0.01;

    /// <summary>LinUCB's exploration weight α on the confidence width. Defaults to 1.0.</summary>
    public double LinUcbAlpha { get; set; } = 1.0;

    /// <summary>
    /// Picks awaiting their reward, in a fixed table (a pick whose slot is taken by a later request
    /// before its reward arrives is not learned from). A power of two. Defaults to 16,384.
    /// </summary>
    public int PendingCapacity { get; set; } = 16_384;

    /// <summary>The latency (ms) at which a <c>latency</c> reward is 0.5: reward = s / (s + latency). Defaults to 1,000.</summary>
    public double LatencyScaleMs { get; set; } = 1_000;

    /// <summary>The cost (nano-dollars) at which a <c>cost</c> reward is 0.5: reward = s / (s + cost). Defaults to 1,000,000 ($0.001).</summary>
    public long CostScaleNanos { get; set; } = 1_000_000;
}

/// <summary>Validates <see cref="BanditOptions"/>.</summary>
public sealed class BanditOptionsValidator : IValidateOptions<BanditOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, BanditOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!(options.ExplorationFloor >= 0 && options.ExplorationFloor <= 0.1))
        {
            failures.Add("ExplorationFloor must be in [0, 0.1].");
        }
        if (!(options.LinUcbAlpha >= 0))
        {
            failures.Add("LinUcbAlpha must not be negative.");
        }
        if (options.PendingCapacity <= 0 || (options.PendingCapacity & (options.PendingCapacity - 1)) != 0)
        {
            failures.Add("PendingCapacity must be a positive power of two.");
        }
        if (!(options.LatencyScaleMs > 0) || options.CostScaleNanos <= 0)
        {
            failures.Add("LatencyScaleMs and CostScaleNanos must be positive.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
