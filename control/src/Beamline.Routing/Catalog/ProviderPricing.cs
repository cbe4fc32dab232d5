using System.Collections.Immutable;

namespace Beamline.Routing.Catalog;

/// <summary>
/// What one model costs at a provider, in US dollars: per million input, output and cached-input
/// tokens, plus a fee per request. Prices are the operator's, from the provider entry
/// (<c>prices</c>), so a tenant's spend is counted in the operator's terms.
/// </summary>
/// <param name="InputPerMTok">Dollars per million input (prompt) tokens.</param>
/// <param name="OutputPerMTok">Dollars per million output (completion) tokens.</param>
/// <param name="CachedInputPerMTok">Dollars per million input tokens read from the provider's prompt cache; null: the input price.</param>
/// <param name="PerRequest">Dollars per request, whatever its tokens.</param>
public sealed record ModelPrice(decimal InputPerMTok, decimal OutputPerMTok, decimal? CachedInputPerMTok = null, decimal PerRequest = 0)
{
    /// <summary>No price: calls cost nothing.</summary>
    public static ModelPrice Free { get; } = new(0, 0);

    /// <summary>Whether every price is zero.</summary>
    public bool IsFree => InputPerMTok == 0 && OutputPerMTok == 0 && (CachedInputPerMTok ?? 0) == 0 && PerRequest == 0;
}

/// <summary>
/// A provider's prices: one for its models by default, and any model priced apart
/// (<c>prices.models</c>); and the output tokens a request that sets no <c>max_tokens</c> may use
/// at most (<c>default_max_tokens</c>), which is what a budget reserves for it.
/// </summary>
public sealed record ProviderPricing
{
    /// <summary>No prices: every call is free; a request without <c>max_tokens</c> reserves <see cref="FallbackMaxTokens"/>.</summary>
    public static ProviderPricing None { get; } = new();

    /// <summary>The output tokens reserved for a request without <c>max_tokens</c> when the entry gives no <c>default_max_tokens</c>.</summary>
    public const int FallbackMaxTokens = 4096;

    /// <summary>The price of models not listed in <see cref="Models"/>.</summary>
    public ModelPrice Default { get; init; } = ModelPrice.Free;

    /// <summary>Models priced apart, by the model name sent upstream.</summary>
    public ImmutableDictionary<string, ModelPrice> Models { get; init; } = ImmutableDictionary<string, ModelPrice>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Output tokens reserved for a request that sets no <c>max_tokens</c>.</summary>
    public int DefaultMaxTokens { get; init; } = FallbackMaxTokens;

    /// <summary>The price of <paramref name="model"/> (null: the default).</summary>
    public ModelPrice For(string? model) => model is not null && Models.TryGetValue(model, out var price) ? price : Default;
}
