using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Tokens;

/// <summary>
/// The tiktoken encodings OpenAI's models use, each loaded once (lazily, thread-safe) from the
/// Microsoft.ML.Tokenizers data packages: <c>o200k_base</c> for the gpt-4o, gpt-4.1, gpt-5 and
/// o-series models, <c>cl100k_base</c> for gpt-4, gpt-3.5 and the text-embedding models.
/// </summary>
internal static class Encodings
{
    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The <c>o200k_base</c> encoding.</summary>
    public static Tokenizer O200kBase => O200k.Value;

    /// <summary>The <c>cl100k_base</c> encoding.</summary>
    public static Tokenizer Cl100kBase => Cl100k.Value;

    /// <summary>
    /// The encoding of <paramref name="model"/>. Anthropic's tokenizer is not public and other
    /// vendors' models have their own: for them (and an unknown or absent model) <c>o200k_base</c>
    /// gives an estimate, which is what a count without the provider's usage is anyway.
    /// </summary>
    public static Tokenizer For(string? model)
    {
        if (model is null)
        {
            return O200kBase;
        }
        // A provider-qualified name ("openai/gpt-4", "azure/gpt-35-turbo") names the same model.
        var slash = model.LastIndexOf('/');
        var name = slash < 0 ? model.AsSpan() : model.AsSpan(slash + 1);
        return UsesCl100k(name) ? Cl100kBase : O200kBase;
    }

    private static bool UsesCl100k(ReadOnlySpan<char> name)
    {
        if (name.StartsWith("gpt-3.5", StringComparison.OrdinalIgnoreCase) || name.StartsWith("gpt-35", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("text-embedding-", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        // gpt-4 and gpt-4-turbo are cl100k; gpt-4o and gpt-4.1 (and gpt-4.5) are o200k.
        if (name.StartsWith("gpt-4", StringComparison.OrdinalIgnoreCase))
        {
            var rest = name[5..];
            return rest.IsEmpty || rest[0] == '-';
        }
        return false;
    }
}
