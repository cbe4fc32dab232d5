using System.Collections.Immutable;

namespace Beamline.Experiments;

/// <summary>What an experiment compares its arms on (its primary metric: the only one that decides a winner).</summary>
public enum ExperimentMetric
{
    /// <summary>The mean feedback score (<c>POST /v1/feedback</c>, 0..1); higher is better. Welch's t test.</summary>
    Quality,

    /// <summary>The mean latency of executes in ms; lower is better. Welch's t test.</summary>
    Latency,

    /// <summary>The mean cost of executes in nano-dollars; lower is better. Welch's t test.</summary>
    Cost,

    /// <summary>The share of executes that failed; lower is better. Two-proportion z test.</summary>
    ErrorRate,
}

/// <summary>Where an experiment stands.</summary>
public enum ExperimentStatus
{
    /// <summary>Splitting traffic and looking at the results.</summary>
    Running,

    /// <summary>A winner was found and promoted: every request of the policy goes to it.</summary>
    Promoted,

    /// <summary>The planned looks ran out (or a winner was found without automatic promotion): traffic is back with the policy.</summary>
    Completed,

    /// <summary>Stopped by an operator: traffic is back with the policy.</summary>
    Stopped,
}

/// <summary>One arm: a provider, or a policy of the tenant, and its share of traffic.</summary>
public sealed record ExperimentArm
{
    /// <summary>The arm's name, unique in its experiment (e.g. <c>control</c>, <c>challenger</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The provider the arm routes to (decided as a pinned provider, with the policy's breakers and fallbacks); or null.</summary>
    public string? ProviderId { get; init; }

    /// <summary>The tenant's policy the arm decides with; or null. Exactly one of this and <see cref="ProviderId"/> is set.</summary>
    public string? PolicyId { get; init; }

    /// <summary>The arm's share of traffic in basis points (1/100 of a percent); the arms' shares add up to 10,000.</summary>
    public required int WeightBasisPoints { get; init; }
}

/// <summary>
/// An experiment: the traffic of one tenant's policy split between arms, sticky per user, looked at
/// every <see cref="SamplesPerLook"/> observations per arm, at most <see cref="MaxLooks"/> times.
/// The first arm is the control; every other arm is compared with it.
/// </summary>
public sealed record ExperimentDefinition
{
    /// <summary>The experiment's id, unique per tenant.</summary>
    public required string Id { get; init; }

    /// <summary>The tenant whose traffic is split.</summary>
    public required string TenantId { get; init; }

    /// <summary>The policy whose requests are split (requests naming it, or resolving to it as the tenant's default).</summary>
    public required string PolicyId { get; init; }

    /// <summary>The arms; the first is the control. At least two.</summary>
    public required ImmutableArray<ExperimentArm> Arms { get; init; }

    /// <summary>The primary metric. Defaults to <see cref="ExperimentMetric.Quality"/>.</summary>
    public ExperimentMetric Metric { get; init; } = ExperimentMetric.Quality;

    /// <summary>The overall type I error over all looks and comparisons. Defaults to 0.05.</summary>
    public double Alpha { get; init; } = 0.05;

    /// <summary>The planned maximum number of looks. Defaults to 5.</summary>
    public int MaxLooks { get; init; } = 5;

    /// <summary>Observations of the primary metric every arm gains between two looks. Defaults to 200.</summary>
    public int SamplesPerLook { get; init; } = 200;

    /// <summary>Whether a significant winner takes all traffic (else the experiment completes and traffic returns to the policy). Defaults to true.</summary>
    public bool AutoPromote { get; init; } = true;

    /// <summary>The problems with this definition (empty when it is valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Id) || Id.Length > 128)
        {
            errors.Add("id must be 1 to 128 characters");
        }
        if (string.IsNullOrWhiteSpace(PolicyId))
        {
            errors.Add("policy_id is required");
        }
        if (Arms.IsDefault || Arms.Length < 2 || Arms.Length > 10)
        {
            errors.Add("an experiment has 2 to 10 arms");
        }
        else
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var total = 0;
            foreach (var arm in Arms)
            {
                if (string.IsNullOrWhiteSpace(arm.Name) || !names.Add(arm.Name))
                {
                    errors.Add($"arm names must be non-empty and unique ('{arm.Name}')");
                }
                if ((arm.ProviderId is null) == (arm.PolicyId is null))
                {
                    errors.Add($"arm '{arm.Name}' names exactly one of provider and policy");
                }
                if (arm.WeightBasisPoints < 0)
                {
                    errors.Add($"arm '{arm.Name}' has a negative share");
                }
                total += Math.Max(0, arm.WeightBasisPoints);
            }
            if (total != 10_000)
            {
                errors.Add("the arms' shares must add up to 100%");
            }
        }
        if (!(Alpha > 0 && Alpha < 0.5))
        {
            errors.Add("alpha must be in (0, 0.5)");
        }
        if (MaxLooks is < 1 or > 100)
        {
            errors.Add("max_looks must be 1 to 100");
        }
        if (SamplesPerLook is < 2 or > 10_000_000)
        {
            errors.Add("samples_per_look must be 2 to 10,000,000");
        }
        return errors;
    }
}
