using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Beamline.Costs.Tokens;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using CsCheck;

namespace Beamline.Costs.Tests.Streams;

public sealed class StreamMeterTests
{
    private const string ChatRequest = """{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
    private const string ChatRequestWithUsage = """{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""";
    private static readonly CostQuote Quote = new("gpt-4o", 9, 100, 0);
    private readonly CostMeter _meter = new();

    private IStreamMeter Begin(WireFormat requestFormat, string payload, WireFormat format)
        => _meter.BeginStream(Requests.Of(requestFormat, payload), Quote, format);

    // Pushes the stream in pieces cut at the given offsets; returns what was passed on, Complete() included.
    private static string Run(IStreamMeter meter, byte[] stream, IEnumerable<int> cuts)
    {
        var passed = new List<byte>();
        var from = 0;
        foreach (var cut in cuts.Append(stream.Length).Order())
        {
            passed.AddRange(meter.Push(stream.AsMemory(from, cut - from)).ToArray());
            from = cut;
        }
        passed.AddRange(meter.Complete().ToArray());
        return Encoding.UTF8.GetString([.. passed]);
    }

    [Fact]
    public void Push_ChatClientDidNotAskForUsage_RemovesTheUsageChunkAndReadsIt()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat);

        var passed = Run(meter, Encoding.UTF8.GetBytes(Streams.Chat), []);

        Assert.Equal(Streams.ChatChunks + Streams.Done, passed);
        Assert.Equal(new TokenUsage(9, 3, 4), meter.Usage);
        Assert.Equal(3, meter.OutputTokens);
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat, ChatRequestWithUsage)]
    [InlineData(WireFormat.AnthropicMessages, """{"model":"x","max_tokens":5,"stream":true,"messages":[]}""")]
    [InlineData(WireFormat.OpenAIResponses, """{"model":"x","stream":true,"input":"hi"}""")]
    [InlineData(WireFormat.Cp1, """{"text":"hi"}""")]
    public void Push_UsageChunkWantedDownstream_PassesItOn(WireFormat requestFormat, string payload)
    {
        var meter = Begin(requestFormat, payload, WireFormat.OpenAIChat);

        Assert.Equal(Streams.Chat, Run(meter, Encoding.UTF8.GetBytes(Streams.Chat), []));
        Assert.Equal(new TokenUsage(9, 3, 4), meter.Usage);
    }

    [Fact]
    public void Push_ChunkEndingOnAnEvent_ReturnsTheSameMemory()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat);
        var chunk = Encoding.UTF8.GetBytes(Streams.ChatChunks);

        var passed = meter.Push(chunk);

        Assert.True(MemoryMarshal.TryGetArray(passed, out var segment));
        Assert.Same(chunk, segment.Array);
        Assert.Equal(0, segment.Offset);
        Assert.Equal(chunk.Length, segment.Count);
    }

    [Fact]
    public void Push_EventSplitAcrossChunks_IsHeldBackUntilWhole()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequestWithUsage, WireFormat.OpenAIChat);
        var stream = Encoding.UTF8.GetBytes(Streams.Done + Streams.Done);

        Assert.Equal(Streams.Done, Encoding.UTF8.GetString(meter.Push(stream.AsMemory(0, Streams.Done.Length + 3)).Span));
        Assert.Equal(Streams.Done, Encoding.UTF8.GetString(meter.Push(stream.AsMemory(Streams.Done.Length + 3)).Span));
        Assert.True(meter.Complete().IsEmpty);
    }

    [Fact]
    public void Usage_ChatStreamWithoutUsage_IsCountedFromTheDeltasAsEstimated()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat);

        Run(meter, Encoding.UTF8.GetBytes(Streams.ChatChunks + Streams.Done), []);

        var o200k = Encodings.O200kBase;
        var output = o200k.CountTokens("Hello") + o200k.CountTokens(" wörld");
        Assert.Equal(new TokenUsage(9, output, Estimated: true), meter.Usage);
        Assert.Equal(output, meter.OutputTokens);
    }

    [Fact]
    public void Usage_AnthropicStream_IsMessageStartsInputAndMessageDeltasOutput()
    {
        var meter = Begin(WireFormat.AnthropicMessages, "{}", WireFormat.AnthropicMessages);

        Assert.Equal(Streams.Anthropic, Run(meter, Encoding.UTF8.GetBytes(Streams.Anthropic), []));
        Assert.Equal(new TokenUsage(125, 15, 100), meter.Usage);
    }

    [Fact]
    public void Usage_AnthropicStreamCutBeforeMessageDelta_KeepsTheInputAndCountsTheOutput()
    {
        var meter = Begin(WireFormat.AnthropicMessages, "{}", WireFormat.AnthropicMessages);
        var cut = Streams.Anthropic[..Streams.Anthropic.IndexOf("event: content_block_stop", StringComparison.Ordinal)];

        Run(meter, Encoding.UTF8.GetBytes(cut), []);

        Assert.Equal(new TokenUsage(125, 2, 100, Estimated: true), meter.Usage);
    }

    [Fact]
    public void Usage_ResponsesStream_IsTheCompletedResponses()
    {
        var meter = Begin(WireFormat.OpenAIResponses, "{}", WireFormat.OpenAIResponses);

        Assert.Equal(Streams.Responses, Run(meter, Encoding.UTF8.GetBytes(Streams.Responses), []));
        Assert.Equal(new TokenUsage(12, 2, 2), meter.Usage);
    }

    [Fact]
    public void Push_OpaqueStream_PassesChunksUntouchedAndCountsTheirText()
    {
        var meter = Begin(WireFormat.Cp1, "\"hi\"", WireFormat.None);
        var text = Encoding.UTF8.GetBytes("hello wörld");
        var first = text.AsMemory(0, 8); // cuts ö in half

        Assert.True(meter.Push(first).Equals(first));
        meter.Push(text.AsMemory(8));
        Assert.True(meter.Complete().IsEmpty);

        Assert.Equal(Encodings.O200kBase.CountTokens("hello w") + Encodings.O200kBase.CountTokens("örld"), meter.OutputTokens);
        Assert.True(meter.Usage.Estimated);
        Assert.True(meter.End("budget").IsEmpty);
    }

    public static TheoryData<WireFormat, string, WireFormat, string> StreamCases => new()
    {
        { WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat, Streams.Chat },
        { WireFormat.OpenAIChat, ChatRequestWithUsage, WireFormat.OpenAIChat, Streams.Chat },
        { WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat, Streams.Chat.Replace("\n", "\r\n", StringComparison.Ordinal) },
        { WireFormat.AnthropicMessages, "{}", WireFormat.AnthropicMessages, Streams.Anthropic },
        { WireFormat.OpenAIResponses, "{}", WireFormat.OpenAIResponses, Streams.Responses },
    };

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Push_SplitAtEveryByte_PassesOnAndMeasuresAsWhole(WireFormat requestFormat, string payload, WireFormat format, string stream)
    {
        var bytes = Encoding.UTF8.GetBytes(stream);
        var whole = Begin(requestFormat, payload, format);
        var expected = Run(whole, bytes, []);

        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var meter = Begin(requestFormat, payload, format);
            Assert.Equal(expected, Run(meter, bytes, [cut]));
            Assert.Equal(whole.Usage, meter.Usage);
        }
        var bytewise = Begin(requestFormat, payload, format);
        Assert.Equal(expected, Run(bytewise, bytes, Enumerable.Range(1, bytes.Length - 1)));
        Assert.Equal(whole.Usage, bytewise.Usage);
        Assert.Equal(whole.OutputTokens, bytewise.OutputTokens);
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void Push_SplitAnywhere_PassesOnAndMeasuresAsWhole(WireFormat requestFormat, string payload, WireFormat format, string stream)
    {
        var bytes = Encoding.UTF8.GetBytes(stream);
        var whole = Begin(requestFormat, payload, format);
        var expected = Run(whole, bytes, []);

        Gen.Int[0, bytes.Length].Array[0, 40].Sample(cuts =>
        {
            var meter = Begin(requestFormat, payload, format);
            Assert.Equal(expected, Run(meter, bytes, cuts.Distinct()));
            Assert.Equal(whole.Usage, meter.Usage);
            Assert.Equal(whole.OutputTokens, meter.OutputTokens);
        }, iter: 300);
    }

    [Fact]
    public void End_ChatStream_EndsWithALengthChunkSayingWhyThenDone()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat);
        meter.Push(Encoding.UTF8.GetBytes(Streams.ChatChunks[..^10]));

        var events = Streams.Parse(Encoding.UTF8.GetString(meter.End("budget").Span));

        Assert.Equal(2, events.Count);
        using var last = JsonDocument.Parse(events[0].Data);
        var root = last.RootElement;
        Assert.Equal("chatcmpl-1", root.GetProperty("id").GetString());
        Assert.Equal("chat.completion.chunk", root.GetProperty("object").GetString());
        Assert.Equal(1700000000, root.GetProperty("created").GetInt64());
        Assert.Equal("gpt-4o-2024-08-06", root.GetProperty("model").GetString());
        Assert.Equal("length", root.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Object, root.GetProperty("choices")[0].GetProperty("delta").ValueKind);
        Assert.Equal("budget", root.GetProperty("beamline_stop").GetProperty("reason").GetString());
        Assert.Equal("[DONE]", events[1].Data);
    }

    [Fact]
    public void End_ChatStreamWhoseClientAskedForUsage_AddsTheUsageCounted()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequestWithUsage, WireFormat.OpenAIChat);
        meter.Push(Encoding.UTF8.GetBytes(Streams.ChatChunks));

        var events = Streams.Parse(Encoding.UTF8.GetString(meter.End("budget").Span));

        Assert.Equal(3, events.Count);
        using var usage = JsonDocument.Parse(events[1].Data);
        Assert.Equal(0, usage.RootElement.GetProperty("choices").GetArrayLength());
        Assert.Equal(meter.Usage.InputTokens, usage.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(meter.OutputTokens, usage.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64());
        Assert.Equal("[DONE]", events[2].Data);
    }

    [Fact]
    public void End_ChatStreamBeforeAnyChunk_StillWritesAWellFormedChunk()
    {
        var meter = Begin(WireFormat.OpenAIChat, ChatRequest, WireFormat.OpenAIChat);

        var events = Streams.Parse(Encoding.UTF8.GetString(meter.End("budget").Span));

        using var last = JsonDocument.Parse(events[0].Data);
        Assert.StartsWith("chatcmpl-", last.RootElement.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("gpt-4o", last.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void End_AnthropicStream_ClosesTheBlockThenMaxTokensAndMessageStop()
    {
        var meter = Begin(WireFormat.AnthropicMessages, "{}", WireFormat.AnthropicMessages);
        var cut = Streams.Anthropic[..Streams.Anthropic.IndexOf("event: content_block_stop", StringComparison.Ordinal)];
        meter.Push(Encoding.UTF8.GetBytes(cut));

        var events = Streams.Parse(Encoding.UTF8.GetString(meter.End("budget").Span));

        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], events.Select(e => e.Name));
        using var delta = JsonDocument.Parse(events[1].Data);
        Assert.Equal("message_delta", delta.RootElement.GetProperty("type").GetString());
        Assert.Equal("max_tokens", delta.RootElement.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(2, delta.RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal("budget", delta.RootElement.GetProperty("beamline_stop").GetProperty("reason").GetString());
        using var stop = JsonDocument.Parse(events[2].Data);
        Assert.Equal("message_stop", stop.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public void End_ResponsesStream_IsAnIncompleteResponse()
    {
        var meter = Begin(WireFormat.OpenAIResponses, "{}", WireFormat.OpenAIResponses);
        meter.Push(Encoding.UTF8.GetBytes(Streams.Responses[..Streams.Responses.IndexOf("event: response.completed", StringComparison.Ordinal)]));

        var events = Streams.Parse(Encoding.UTF8.GetString(meter.End("budget").Span));

        var (name, data) = Assert.Single(events);
        Assert.Equal("response.incomplete", name);
        using var document = JsonDocument.Parse(data);
        var response = document.RootElement.GetProperty("response");
        Assert.Equal("resp_1", response.GetProperty("id").GetString());
        Assert.Equal("incomplete", response.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", response.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal("budget", document.RootElement.GetProperty("beamline_stop").GetProperty("reason").GetString());
    }
}
