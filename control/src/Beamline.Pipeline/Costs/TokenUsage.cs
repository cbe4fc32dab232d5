namespace Beamline.Pipeline.Costs;

/// <summary>
/// The tokens one provider call used: as the provider reported them, or counted with a real
/// tokenizer when it reported none (<see cref="Estimated"/>).
/// </summary>
/// <param name="InputTokens">Prompt tokens, cached ones included.</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="CachedInputTokens">The part of <paramref name="InputTokens"/> read from the provider's prompt cache (priced apart).</param>
/// <param name="Estimated">True when counted here rather than reported by the provider.</param>
public readonly record struct TokenUsage(long InputTokens, long OutputTokens, long CachedInputTokens = 0, bool Estimated = false)
{
    /// <summary>Input plus output tokens (what <c>tokens_per_minute</c> counts); negative counts read as 0, and the sum saturates.</summary>
    public long Total => Saturating.Add(Math.Max(0, InputTokens), Math.Max(0, OutputTokens));
}

/// <summary>
/// Money as whole nano-dollars (1e-9 USD) in a <see cref="long"/>: exact sums and integer
/// arithmetic on the hot path (9.2 billion dollars fit).
/// </summary>
public static class Nanos
{
    /// <summary>Nano-dollars per dollar.</summary>
    public const long PerUsd = 1_000_000_000;

    /// <summary>Dollars of <paramref name="nanos"/>.</summary>
    public static decimal ToUsd(long nanos) => nanos / (decimal)PerUsd;

    /// <summary>Nano-dollars of <paramref name="usd"/>, rounded up (a budget is never rounded in the spender's favour).</summary>
    public static long FromUsd(decimal usd) => (long)decimal.Ceiling(usd * PerUsd);
}

/// <summary>
/// The largest cost a request can have at one provider, before it is called: its prompt counted,
/// its output at most <c>max_tokens</c> (or the model's default), priced by the provider's prices
/// for the model. This is what a budget reserves.
/// </summary>
/// <param name="Model">The model priced (the request's, else the provider's default).</param>
/// <param name="PromptTokens">The request's prompt tokens, counted with a real tokenizer.</param>
/// <param name="MaxOutputTokens">The most output tokens the call may return.</param>
/// <param name="MaxCostNanos">The cost of <paramref name="PromptTokens"/> in and <paramref name="MaxOutputTokens"/> out, plus the per-request fee.</param>
public readonly record struct CostQuote(string? Model, long PromptTokens, long MaxOutputTokens, long MaxCostNanos)
{
    /// <summary>
    /// False when the prompt was not counted (nothing needed the count: no budget, no cost-aware
    /// routing); <see cref="PromptTokens"/> is then 0 and the meter counts the prompt only if it must
    /// estimate usage the provider did not report.
    /// </summary>
    public bool PromptCounted { get; init; } = true;

    /// <summary>The most tokens the call may use (what <c>tokens_per_minute</c> reserves); the sum saturates.</summary>
    public long MaxTokens => Saturating.Add(Math.Max(0, PromptTokens), Math.Max(0, MaxOutputTokens));
}

/// <summary>Sums of counts that clients and upstreams choose (a <c>max_tokens</c> near 2^63): they stop at <see cref="long.MaxValue"/> instead of wrapping negative.</summary>
public static class Saturating
{
    /// <summary><paramref name="a"/> + <paramref name="b"/> for non-negative values, at most <see cref="long.MaxValue"/>.</summary>
    public static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
