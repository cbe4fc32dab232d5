using Beamline.Routing;

namespace Beamline.Experiments.Bandits;

/// <summary>Draws from Beta(α, β) with α, β ≥ 1 as X/(X + Y), X ~ Gamma(α), Y ~ Gamma(β) (Marsaglia–Tsang). Allocation-free.</summary>
internal static class BetaSampler
{
    public static double Sample(IRandomSource random, double alpha, double beta)
    {
        var x = Gamma(random, alpha);
        var y = Gamma(random, beta);
        return x / (x + y);
    }

    // Marsaglia and Tsang (2000), "A simple method for generating gamma variables"; shape ≥ 1.
    private static double Gamma(IRandomSource random, double shape)
    {
        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            var x = Normal(random);
            var v = 1 + (c * x);
            if (v <= 0)
            {
                continue;
            }
            v = v * v * v;
            var u = 1 - random.NextDouble(); // (0, 1]: log(u) is finite
            var xx = x * x;
            if (u < 1 - (0.0331 * xx * xx) || Math.Log(u) < (0.5 * xx) + (d * (1 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }

    // Box–Muller; the second variate is dropped so that no state is shared between threads.
    private static double Normal(IRandomSource random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
