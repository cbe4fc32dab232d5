using Beamline.Costs.Pricing;
using Beamline.Costs.Streams;
using Beamline.Costs.Tokens;
using Beamline.Costs.Usage;
using Beamline.Gateway;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Costs;

/// <summary>
/// Prices and measures provider calls: prompts counted with tiktoken (<c>o200k_base</c>, or
/// <c>cl100k_base</c> for the models that use it), calls priced in nano-dollars from the provider
/// entries' prices per model, and usage read from the OpenAI and Anthropic answers, whole and
/// streamed (counted, and marked estimated, when a provider reports none). Thread-safe; one
/// instance serves every request.
/// </summary>
public sealed class CostMeter : ICostMeter
{
    /// <summary>
    /// The most output a quote reserves, whatever <c>max_tokens</c> the client sent (no model writes
    /// ten million tokens in one answer): a client cannot make a reservation overflow the counters.
    /// </summary>
    public const long MaxOutputTokens = 10_000_000;

    private readonly TimeProvider _time;

    /// <summary>A meter on the system clock.</summary>
    public CostMeter()
        : this(TimeProvider.System)
    {
    }

    /// <summary>A meter on <paramref name="time"/> (the clock of the events that end a stream early).</summary>
    public CostMeter(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    /// <inheritdoc />
    public long CountPromptTokens(PipelineRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.PromptTokens ?? Count(request, RequestFields.Read(request.Format, request.Payload.Span));
    }

    // The count, with the request's fields already read (a quote reads them once for everything).
    private static long Count(PipelineRequest request, in RequestFields fields)
    {
        if (request.PromptTokens is { } counted)
        {
            return counted;
        }
        var model = AskedModel(request, fields);
        var tokens = PromptTokens.Count(Encodings.For(model), request.Format, request.PayloadKind, request.Payload.Span);
        request.PromptTokens = tokens;
        return tokens;
    }

    /// <inheritdoc />
    public CostQuote Quote(PipelineRequest request, ProviderDescriptor provider, bool countPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(provider);
        var fields = RequestFields.Read(request.Format, request.Payload.Span);
        var counted = countPrompt || request.PromptTokens is not null;
        var prompt = counted ? Count(request, fields) : 0;
        var model = UpstreamModel(request, provider, fields);
        var maxOutput = request.Format == WireFormat.OpenAIEmbeddings || request.MessageType == "embedding"
            ? 0
            : Math.Min(fields.MaxOutputTokens ?? provider.Pricing.DefaultMaxTokens, MaxOutputTokens);
        return new CostQuote(model, prompt, maxOutput, Price(provider, model, new TokenUsage(prompt, maxOutput))) { PromptCounted = counted };
    }

    /// <inheritdoc />
    public long Price(ProviderDescriptor provider, string? model, in TokenUsage usage)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return Prices.Nanos(provider.Pricing.For(model), usage);
    }

    /// <inheritdoc />
    public TokenUsage Measure(PipelineRequest request, in CostQuote quote, WireFormat format, ReadOnlySpan<byte> answer)
    {
        ArgumentNullException.ThrowIfNull(request);
        var usage = AnswerUsage.Read(Encodings.For(quote.Model), format, answer, quote.PromptTokens);
        // Estimated without a counted prompt: count it now (the only case that needs it).
        return usage.Estimated && !quote.PromptCounted ? usage with { InputTokens = CountPromptTokens(request) } : usage;
    }

    /// <inheritdoc />
    public IStreamMeter BeginStream(PipelineRequest request, in CostQuote quote, WireFormat format)
    {
        ArgumentNullException.ThrowIfNull(request);
        var asked = request.Format == WireFormat.OpenAIChat && RequestFields.Read(request.Format, request.Payload.Span).IncludeUsage;
        // The usage chunk is Beamline's own request when an OpenAI client did not ask for it; a face
        // translating the stream for an Anthropic or Responses client reads it for its last event.
        var translated = request.Format is WireFormat.AnthropicMessages or WireFormat.OpenAIResponses;
        return new StreamMeter(Encodings.For(quote.Model), format, quote.PromptTokens,
            dropUsageEvent: request.Format == WireFormat.OpenAIChat && !asked,
            usageWanted: asked || translated,
            quote.Model, _time, quote.PromptCounted ? null : () => CountPromptTokens(request));
    }

    // The model the client named: the gateway face's (kept apart, as the body's may be rewritten), else the body's.
    private static string? AskedModel(PipelineRequest request, in RequestFields fields)
        => request.Metadata.TryGetValue(ModelRoutes.GatewayModelKey, out var asked) ? asked : fields.Model;

    /// <summary>
    /// The model <paramref name="provider"/> will be asked for, as the provider clients choose it: for
    /// a gateway request <see cref="ModelRoutes.UpstreamModel"/> (else the body's own, sent as it is);
    /// for a CP1 payload its <c>model</c> when the entry allows it, else the entry's default.
    /// </summary>
    private static string? UpstreamModel(PipelineRequest request, ProviderDescriptor provider, in RequestFields fields)
    {
        if (request.Format is WireFormat.Cp1 or WireFormat.None)
        {
            return request.PayloadKind == PayloadKind.Json && fields.Model is { } model && provider.AllowsModel(model) ? model : provider.DefaultModel;
        }
        var asked = AskedModel(request, fields);
        return ModelRoutes.UpstreamModel(provider, asked) ?? fields.Model;
    }
}
