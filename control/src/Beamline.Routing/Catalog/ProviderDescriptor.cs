using System.Collections.Immutable;
using System.Globalization;

namespace Beamline.Routing.Catalog;

/// <summary>What serves a provider's calls.</summary>
public enum ProviderKind
{
    /// <summary>The OpenAI API.</summary>
    OpenAI,

    /// <summary>The Anthropic API.</summary>
    Anthropic,

    /// <summary>Any OpenAI-compatible HTTP endpoint (vLLM, Ollama, a gateway...).</summary>
    OpenAICompatible,

    /// <summary>A CP1 custom provider on NATS: <c>beamline.provider.{id}.v{N}</c>.</summary>
    NatsProvider,

    /// <summary>A block type executed on a worker pool.</summary>
    Block,

    /// <summary><c>mock</c>: answers in-process in the OpenAI or Anthropic shape, with configurable latency and streaming cadence (first runs, tests, benchmarks).</summary>
    Mock,

    /// <summary>Named by a policy but absent from the catalog: no price, default latency.</summary>
    Unknown,
}

/// <summary>One provider in the catalog (immutable configuration).</summary>
public sealed record ProviderDescriptor
{
    /// <summary>The provider id that policies name.</summary>
    public required string Id { get; init; }

    /// <summary>What serves it. Defaults to <see cref="ProviderKind.OpenAICompatible"/>.</summary>
    public ProviderKind Kind { get; init; } = ProviderKind.OpenAICompatible;

    /// <summary>The model name sent to the provider when the request names none, or null.</summary>
    public string? Model { get; init; }

    /// <summary>
    /// The models a request may ask for (<c>models</c>); empty when the entry lists none, in which
    /// case only <see cref="Model"/> may be asked for (any model when that is null too).
    /// </summary>
    public ImmutableArray<string> Models { get; init; } = [];

    /// <summary>The model used when the request names none: <see cref="Model"/>, else the first of <see cref="Models"/>.</summary>
    public string? DefaultModel => Model ?? (Models.IsDefaultOrEmpty ? null : Models[0]);

    /// <summary>
    /// True when a request may ask for <paramref name="model"/>: it is one of <see cref="Models"/>,
    /// or, without a list, <see cref="Model"/>; with neither, any model is allowed. The entry is the
    /// operator's account: a tenant must not pick a dearer model than the entry offers.
    /// </summary>
    public bool AllowsModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!Models.IsDefaultOrEmpty)
        {
            foreach (var allowed in Models)
            {
                if (string.Equals(allowed, model, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }
        return Model is null || string.Equals(Model, model, StringComparison.Ordinal);
    }

    /// <summary>The base URL for HTTP kinds, or null for the kind's default.</summary>
    public string? Endpoint { get; init; }

    /// <summary>The CP1 provider protocol version for <see cref="ProviderKind.NatsProvider"/>. Defaults to 1.</summary>
    public int SubjectVersion { get; init; } = 1;

    /// <summary>The block type for <see cref="ProviderKind.Block"/> (e.g. <c>http.request</c>).</summary>
    public string? BlockType { get; init; }

    /// <summary>The <c>mock</c> kind's settings; null for other kinds.</summary>
    public MockSettings? Mock { get; init; }

    /// <summary>The worker pool for <see cref="ProviderKind.Block"/>. Defaults to <c>cpu</c>.</summary>
    public string Pool { get; init; } = "cpu";

    /// <summary>
    /// The deadline of one call to this provider in ms (the block's <c>deadline_ms</c> when the
    /// router's caller executes it). Defaults to 0: the dispatcher's default deadline.
    /// </summary>
    public uint TimeoutMs { get; init; }

    /// <summary>
    /// The environment variable holding the API key of an HTTP provider (<c>api_key_env</c>), or
    /// null. The control plane never reads it into a block: the block names the credential
    /// (<see cref="CredentialName"/>) and the executing side resolves it; the embedded runtime gets a
    /// credential reading this variable (<c>Authorization: Bearer</c>, or <c>x-api-key</c> for
    /// Anthropic).
    /// </summary>
    public string? ApiKeyVariable { get; init; }

    /// <summary>The credential name an HTTP provider's blocks give (<c>credential_ref</c>), or null for the default.</summary>
    public string? CredentialRef { get; init; }

    /// <summary>
    /// The credential an HTTP provider's blocks name (<c>credential_ref</c>): <see cref="CredentialRef"/>,
    /// else the provider id when <see cref="ApiKeyVariable"/> is set, else null (calls without credentials).
    /// </summary>
    public string? CredentialName => CredentialRef ?? (ApiKeyVariable is not null ? Id : null);

    /// <summary>
    /// The entry's prices per model (<c>prices</c>) and <c>default_max_tokens</c>: what cost
    /// tracking and budgets charge. <see cref="InputPricePer1K"/> and <see cref="OutputPricePer1K"/>
    /// are its default model's, for routing.
    /// </summary>
    public ProviderPricing Pricing { get; init; } = ProviderPricing.None;

    /// <summary>Price per 1,000 input tokens.</summary>
    public double InputPricePer1K { get; init; }

    /// <summary>Price per 1,000 output tokens.</summary>
    public double OutputPricePer1K { get; init; }

    /// <summary>Free-form tags (<c>general</c>, <c>local</c>, ...).</summary>
    public ImmutableArray<string> Tags { get; init; } = [];

    /// <summary>Capabilities (<c>chat</c>, <c>embedding</c>, <c>vision</c>, ...).</summary>
    public ImmutableArray<string> Capabilities { get; init; } = [];

    /// <summary>A quality score in [0, 1] used by <c>best_quality</c>. Defaults to 0.5.</summary>
    public double QualityScore { get; init; } = 0.5;

    /// <summary>The latency assumed before any call was observed, in ms. Defaults to 1000.</summary>
    public double BaselineLatencyMs { get; init; } = 1000;

    /// <summary>The CP1 <c>priority</c> reported with decisions for this provider. Defaults to 50.</summary>
    public int Priority { get; init; } = 50;

    /// <summary>The NATS subject of a <see cref="ProviderKind.NatsProvider"/>: <c>beamline.provider.{id}.v{N}</c>.</summary>
    public string Subject => string.Create(CultureInfo.InvariantCulture, $"beamline.provider.{Id}.v{SubjectVersion}");

    /// <summary>The expected cost in dollars of one call with the given token counts (the default model's prices and the per-request fee).</summary>
    public double ExpectedCost(int inputTokens, int outputTokens) =>
        (inputTokens * InputPricePer1K + outputTokens * OutputPricePer1K) / 1000.0 + (double)Pricing.Default.PerRequest;
}

/// <summary>How a <c>mock</c> provider answers.</summary>
public sealed record MockSettings
{
    /// <summary>Time before the answer (or before the first chunk of a stream), <c>latency_ms</c>.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Time between streamed chunks, <c>chunk_interval_ms</c>.</summary>
    public int ChunkIntervalMs { get; init; }

    /// <summary>The answer text, <c>reply</c>; null: it echoes the last user message.</summary>
    public string? Reply { get; init; }

    /// <summary>The shape it answers in, <c>format</c> (<c>openai</c> or <c>anthropic</c>); null: the request's own.</summary>
    public string? Format { get; init; }
}
