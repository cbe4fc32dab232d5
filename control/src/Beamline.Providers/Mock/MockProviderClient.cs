using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using Beamline.Policies;
using Beamline.Routing.Catalog;

namespace Beamline.Providers.Mock;

/// <summary>
/// The <c>mock</c> provider kind: answers in-process, in the OpenAI Chat Completions or Anthropic
/// Messages shape (its <c>format</c>, else the request's own), after <c>latency_ms</c>, and streams
/// its answer word by word every <c>chunk_interval_ms</c> as the real APIs' server-sent events.
/// It echoes the last user message unless a <c>reply</c> is configured, and reports usage counted
/// at four characters a token. It lets a fresh machine without internet complete a chat, and gives
/// tests and benchmarks an upstream with known timing.
/// </summary>
internal sealed class MockProviderClient(TimeProvider time) : IProviderClient
{
    /// <inheritdoc />
    public bool Serves(ProviderKind kind) => kind == ProviderKind.Mock;

    /// <inheritdoc />
    public string? Refuse(ProviderCall call) => null;

    /// <inheritdoc />
    public async ValueTask<ProviderAnswer> CallAsync(ProviderCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var settings = call.Provider.Mock ?? new MockSettings();
        if (settings.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(settings.LatencyMs), time, cancellationToken).ConfigureAwait(false);
        }
        var format = FormatOf(call, settings);
        var text = MockText.Prompt(call.Request);
        if (format == WireFormat.OpenAIEmbeddings)
        {
            return Ok(MockAnswers.Embeddings(call.Provider, call.Request), format);
        }
        var reply = settings.Reply ?? MockText.Echo(text);
        var usage = new MockUsage(MockText.Tokens(text), MockText.Tokens(reply));
        var output = format == WireFormat.AnthropicMessages
            ? MockAnswers.AnthropicMessage(call.Provider, reply, usage)
            : MockAnswers.ChatCompletion(call.Provider, reply, usage, time.GetUtcNow());
        return Ok(output, format);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var settings = call.Provider.Mock ?? new MockSettings();
        var format = FormatOf(call, settings);
        if (format == WireFormat.OpenAIEmbeddings)
        {
            yield return new ProviderStreamItem(default, await CallAsync(call, cancellationToken).ConfigureAwait(false));
            yield break;
        }
        if (settings.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(settings.LatencyMs), time, cancellationToken).ConfigureAwait(false);
        }
        var text = MockText.Prompt(call.Request);
        var reply = settings.Reply ?? MockText.Echo(text);
        var usage = new MockUsage(MockText.Tokens(text), MockText.Tokens(reply));
        var events = format == WireFormat.AnthropicMessages
            ? MockStreams.Anthropic(call.Provider, reply, usage)
            // Beamline asks every OpenAI upstream stream for its usage (stream_options.include_usage,
            // see RequestTranslation.ToUpstream): the mock answers as such an upstream would.
            : MockStreams.OpenAI(call.Provider, reply, usage, time.GetUtcNow(), includeUsage: true);
        var first = true;
        foreach (var sse in events)
        {
            if (!first && settings.ChunkIntervalMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(settings.ChunkIntervalMs), time, cancellationToken).ConfigureAwait(false);
            }
            first = false;
            yield return new ProviderStreamItem(sse, null) { Format = format };
        }
        yield return new ProviderStreamItem(default, Ok(default, format));
    }

    private static ProviderAnswer Ok(ReadOnlyMemory<byte> output, WireFormat format) =>
        new(true, FailureKinds.None, "ok", null, null, 200, output) { Format = format };

    // The configured shape, else the request's own (a CP1 or Responses request gets Chat Completions).
    private static WireFormat FormatOf(ProviderCall call, MockSettings settings) => settings.Format switch
    {
        "anthropic" => WireFormat.AnthropicMessages,
        "openai" => call.Request.Format == WireFormat.OpenAIEmbeddings ? WireFormat.OpenAIEmbeddings : WireFormat.OpenAIChat,
        _ => call.Request.Format switch
        {
            WireFormat.AnthropicMessages => WireFormat.AnthropicMessages,
            WireFormat.OpenAIEmbeddings => WireFormat.OpenAIEmbeddings,
            _ => WireFormat.OpenAIChat,
        },
    };
}

/// <summary>Token counts of a mock answer.</summary>
internal readonly record struct MockUsage(int InputTokens, int OutputTokens);
