using MathNet.Numerics.Distributions;

namespace Beamline.Experiments.Statistics;

/// <summary>
/// The correction for repeated looks: Lan–DeMets alpha spending with the O'Brien–Fleming-type
/// spending function α(t) = 2 − 2·Φ(z₁₋α/₂ / √t) over a planned maximum of looks, look k at
/// information fraction t = k / maxLooks. Look k may spend α(tₖ) − α(tₖ₋₁), and a comparison is
/// significant at look k when its p-value is at most that increment divided by the number of
/// comparisons made at each look (Bonferroni across challengers). By the union bound the chance
/// of any false positive over all looks and comparisons is at most α; the procedure is
/// conservative (exact boundaries would integrate the joint distribution of the looks).
/// Early looks spend almost nothing, so a winner is declared early only on overwhelming evidence.
/// </summary>
public static class AlphaSpending
{
    /// <summary>α(t): the type I error spent by information fraction <paramref name="fraction"/> (0 at t ≤ 0, α at t ≥ 1).</summary>
    public static double Spent(double alpha, double fraction)
    {
        ValidateAlpha(alpha);
        if (fraction <= 0)
        {
            return 0;
        }
        if (fraction >= 1)
        {
            return alpha;
        }
        var z = Normal.InvCDF(0, 1, 1 - (alpha / 2));
        return 2 - (2 * Normal.CDF(0, 1, z / Math.Sqrt(fraction)));
    }

    /// <summary>The nominal p-value threshold of look <paramref name="look"/> (1-based) of <paramref name="maxLooks"/>, for one of <paramref name="comparisons"/> comparisons.</summary>
    public static double Threshold(double alpha, int look, int maxLooks, int comparisons)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLooks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(look, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(look, maxLooks);
        ArgumentOutOfRangeException.ThrowIfLessThan(comparisons, 1);
        var increment = Spent(alpha, (double)look / maxLooks) - Spent(alpha, (double)(look - 1) / maxLooks);
        return increment / comparisons;
    }

    private static void ValidateAlpha(double alpha)
    {
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1).");
        }
    }
}
