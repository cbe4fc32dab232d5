using System.Runtime.CompilerServices;
using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Costs.Pricing;

/// <summary>
/// Prices usage in whole nano-dollars with integer arithmetic: each <see cref="ModelPrice"/>'s
/// dollars per million tokens are turned once into atto-dollars (1e-18) per token, the terms are
/// summed in <see cref="Int128"/> and the sum is rounded up to a nano-dollar only at the end, so
/// that no call is rounded in the spender's favour and none is charged more than one nano-dollar
/// above its exact cost.
/// </summary>
internal static class Prices
{
    private const long AttoPerNano = 1_000_000_000;

    // Catalog records are immutable and replaced on reload: a weak table lets old ones go.
    private static readonly ConditionalWeakTable<ModelPrice, Scaled> Table = new();

    /// <summary>What <paramref name="usage"/> costs at <paramref name="price"/>, in nano-dollars (saturating at <see cref="long.MaxValue"/>).</summary>
    public static long Nanos(ModelPrice price, in TokenUsage usage)
    {
        ArgumentNullException.ThrowIfNull(price);
        var scaled = Table.GetValue(price, static p => new Scaled(p));
        var input = Math.Max(0, usage.InputTokens);
        var cached = Math.Clamp(usage.CachedInputTokens, 0, input);
        var output = Math.Max(0, usage.OutputTokens);
        var atto = (Int128)(input - cached) * scaled.Input
            + (Int128)cached * scaled.CachedInput
            + (Int128)output * scaled.Output
            + scaled.PerRequest;
        var nanos = (atto + (AttoPerNano - 1)) / AttoPerNano;
        return nanos > long.MaxValue ? long.MaxValue : (long)nanos;
    }

    // Atto-dollars per token is dollars per million tokens times 1e12; per request, dollars times 1e18.
    private sealed class Scaled(ModelPrice price)
    {
        public long Input { get; } = Atto(price.InputPerMTok, 1e12m);

        public long Output { get; } = Atto(price.OutputPerMTok, 1e12m);

        public long CachedInput { get; } = Atto(price.CachedInputPerMTok ?? price.InputPerMTok, 1e12m);

        public Int128 PerRequest { get; } = (Int128)Atto(price.PerRequest, 1e9m) * AttoPerNano;

        // A price finer than the unit is rounded up; an absurd one saturates rather than wraps.
        private static long Atto(decimal dollars, decimal scale)
        {
            if (dollars <= 0)
            {
                return 0;
            }
            if (dollars >= long.MaxValue / scale)
            {
                return long.MaxValue;
            }
            var units = decimal.Ceiling(dollars * scale);
            return (long)units;
        }
    }
}
