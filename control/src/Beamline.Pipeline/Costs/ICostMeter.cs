using Beamline.Routing.Catalog;

namespace Beamline.Pipeline.Costs;

/// <summary>
/// Prices and measures provider calls: the pipeline's port to the catalog's prices, the
/// tokenizer and the usage the OpenAI and Anthropic answers carry.
/// </summary>
public interface ICostMeter
{
    /// <summary>
    /// The request's prompt tokens, counted with a real tokenizer over the text its format carries
    /// (messages, system, input, tools). Counted once: the count is kept in <see cref="PipelineRequest.PromptTokens"/>.
    /// </summary>
    long CountPromptTokens(PipelineRequest request);

    /// <summary>
    /// The request's largest possible cost at <paramref name="provider"/>: the prompt counted, plus
    /// its <c>max_tokens</c> (<c>max_completion_tokens</c>, <c>max_output_tokens</c>) or the entry's
    /// <c>default_max_tokens</c>, priced for the model the provider will be asked for.
    /// </summary>
    /// <remarks>
    /// With <paramref name="countPrompt"/> false and the prompt not counted yet, the quote leaves it
    /// out (<see cref="CostQuote.PromptCounted"/> false): counting a long prompt costs milliseconds,
    /// and a caller without budgets reserves nothing.
    /// </remarks>
    CostQuote Quote(PipelineRequest request, ProviderDescriptor provider, bool countPrompt = true);

    /// <summary>What <paramref name="usage"/> costs at <paramref name="provider"/> for <paramref name="model"/> (the per-request fee included).</summary>
    long Price(ProviderDescriptor provider, string? model, in TokenUsage usage);

    /// <summary>
    /// The usage of a whole answer: as the answer reports it (<c>usage</c> of the OpenAI and
    /// Anthropic forms), else counted (<see cref="TokenUsage.Estimated"/>): the quote's prompt
    /// tokens and the answer's text through the tokenizer.
    /// </summary>
    TokenUsage Measure(PipelineRequest request, in CostQuote quote, WireFormat format, ReadOnlySpan<byte> answer);

    /// <summary>
    /// A meter for a streamed answer in <paramref name="format"/> (server-sent events of the
    /// OpenAI or Anthropic stream, or opaque chunks). Never null.
    /// </summary>
    IStreamMeter BeginStream(PipelineRequest request, in CostQuote quote, WireFormat format);
}

/// <summary>
/// Reads a streamed answer as it passes: its usage (the provider's, else counted from the text),
/// the output so far (so that a stream reaching its reservation can be ended), and the usage-only
/// event Beamline asked the upstream for (<c>stream_options.include_usage</c>) when the client
/// did not ask for it, which is removed.
/// </summary>
public interface IStreamMeter
{
    /// <summary>Reads one chunk; returns what to pass on (the chunk, less any event the client must not see; events split across chunks are kept whole).</summary>
    ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk);

    /// <summary>The output tokens seen so far (counted from the streamed text, or the provider's running count).</summary>
    long OutputTokens { get; }

    /// <summary>The call's usage: the provider's report, else counted (<see cref="TokenUsage.Estimated"/>).</summary>
    TokenUsage Usage { get; }

    /// <summary>What is left to pass on when the stream ends normally (an event held back at a chunk's end).</summary>
    ReadOnlyMemory<byte> Complete();

    /// <summary>
    /// Events in the stream's format that end it early and say why (<paramref name="reason"/>, e.g. <c>budget</c>):
    /// for OpenAI a last chunk with <c>finish_reason: "length"</c> and a <c>beamline_stop</c> field, then <c>[DONE]</c>;
    /// for Anthropic <c>message_delta</c> (<c>stop_reason: "max_tokens"</c>) and <c>message_stop</c>.
    /// </summary>
    ReadOnlyMemory<byte> End(string reason);
}
