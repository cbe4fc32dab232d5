using System.Text;
using BenchmarkDotNet.Attributes;
using Beamline.Costs;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Routing.Catalog;

namespace Beamline.Benchmarks;

/// <summary>
/// Cost tracking's hot paths: a streamed OpenAI chunk through the stream meter (one content delta
/// counted with tiktoken; passed on without a copy), the usage-only chunk removed, a 1 KiB chat
/// prompt counted (o200k_base), a request quoted and a whole answer's usage read.
/// </summary>
[MemoryDiagnoser]
public class CostMeterBenchmarks
{
    private const string Chunk =
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" quickly\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";

    private const string UsageAndDone =
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\ndata: [DONE]\n\n";

    private readonly CostMeter _meter = new();
    private readonly ProviderDescriptor _provider = new()
    {
        Id = "openai",
        Kind = ProviderKind.OpenAI,
        Model = "gpt-4o",
        Pricing = new ProviderPricing { Default = new ModelPrice(2.5m, 10m, 1.25m) },
    };

    private PipelineRequest _chat = null!;
    private CostQuote _quote;
    private IStreamMeter _stream = null!;
    private byte[] _chunk = null!;
    private byte[] _usageAndDone = null!;
    private byte[] _answer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var messages = new StringBuilder("""{"model":"gpt-4o","stream":true,"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."}""");
        while (messages.Length < 1024 - 120)
        {
            messages.Append(""",{"role":"user","content":"How do I rotate the API keys of a provider without downtime?"}""");
        }
        messages.Append("]}");
        _chat = new PipelineRequest
        {
            Caller = new Caller { TenantId = "bench" },
            RequestId = "r1",
            MessageType = "chat",
            Payload = Encoding.UTF8.GetBytes(messages.ToString()),
            PayloadKind = PayloadKind.Json,
            Format = WireFormat.OpenAIChat,
        };
        _quote = _meter.Quote(_chat, _provider);
        _stream = _meter.BeginStream(_chat, _quote, WireFormat.OpenAIChat);
        _chunk = Encoding.UTF8.GetBytes(Chunk);
        _usageAndDone = Encoding.UTF8.GetBytes(UsageAndDone);
        _answer = Encoding.UTF8.GetBytes("""{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Rotate one key at a time."},"finish_reason":"stop"}],"usage":{"prompt_tokens":250,"completion_tokens":7,"total_tokens":257,"prompt_tokens_details":{"cached_tokens":0}}}""");
    }

    /// <summary>One content chunk (the usual streamed event).</summary>
    [Benchmark]
    public int Push_ContentChunk() => _stream.Push(_chunk).Length;

    /// <summary>The tokenizer alone over the chunk's delta (what <see cref="Push_ContentChunk"/> adds to reading the event).</summary>
    [Benchmark]
    public int Tokenizer_Delta() => Beamline.Costs.Tokens.Encodings.O200kBase.CountTokens(" quickly".AsSpan());

    /// <summary>The usage-only chunk (removed) and <c>[DONE]</c>.</summary>
    [Benchmark]
    public int Push_UsageChunkRemoved() => _stream.Push(_usageAndDone).Length;

    /// <summary>A 1 KiB chat prompt counted with o200k_base.</summary>
    [Benchmark]
    public long CountPromptTokens_1KiBChat()
    {
        _chat.PromptTokens = null;
        return _meter.CountPromptTokens(_chat);
    }

    /// <summary>A quote of the counted request (model, max_tokens, price).</summary>
    [Benchmark]
    public long Quote_Counted() => _meter.Quote(_chat, _provider).MaxCostNanos;

    /// <summary>A whole chat answer's usage.</summary>
    [Benchmark]
    public long Measure_ChatAnswer() => _meter.Measure(_chat, _quote, WireFormat.OpenAIChat, _answer).Total;
}
