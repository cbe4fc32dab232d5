using System.Buffers;
using System.Text;
using Beamline.Extensions.BuiltIn;
using Beamline.Gateway.Translation.Streams;
using Beamline.Pipeline;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Providers;

namespace Beamline.Gateway.Tests.Translation;

public sealed class SseTextCodecTests
{
    private const string Head = "\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"gpt-4o\",\"system_fingerprint\":\"fp_1\",";

    private static string Chunk(string choice) => "{" + Head + "\"choices\":[" + choice + "]}";

    // An OpenAI stream whose answer holds an e-mail address split across two deltas, then a tool call, finish, usage, [DONE].
    private static readonly string OpenAIStream = Sse.Build(
        (null, Chunk("""{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}""")),
        (null, Chunk("""{"index":0,"delta":{"content":"Write to bob@exa"},"logprobs":null,"finish_reason":null}""")),
        (null, Chunk("""{"index":0,"delta":{"content":"mple.com, café"},"logprobs":null,"finish_reason":null}""")),
        (null, Chunk("""{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"mail","arguments":"{\"to\":\"x\"}"}}]},"logprobs":null,"finish_reason":null}""")),
        (null, Chunk("""{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}""")),
        (null, "{" + Head + "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}"),
        (null, "[DONE]"));

    // An Anthropic stream: a ping, a thinking block, a text block holding a split e-mail address, a tool_use block.
    private static readonly string AnthropicStream = Sse.Build(
        ("message_start", """{"type":"message_start","message":{"id":"msg_7","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}"""),
        ("ping", """{"type":"ping"}"""),
        ("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":0}"""),
        ("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Write to bob@exa"}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"mple.com, café"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":1}"""),
        ("content_block_start", """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"mail","input":{}}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"to\":\"x\"}"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":2}"""),
        ("message_delta", """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":4}}"""),
        ("message_stop", """{"type":"message_stop"}"""));

    private const string Masked = "Write to [EMAIL], café";

    [Fact]
    public void Begin_OtherFormats_ReadsNone()
    {
        var codec = new SseTextCodec();
        Assert.NotNull(codec.Begin(WireFormat.OpenAIChat));
        Assert.NotNull(codec.Begin(WireFormat.AnthropicMessages));
        Assert.Null(codec.Begin(WireFormat.OpenAIResponses));
        Assert.Null(codec.Begin(WireFormat.Cp1));
        Assert.Null(codec.Begin(WireFormat.None));
    }

    [Fact]
    public void OpenAI_EmailSplitAcrossDeltas_IsMasked_WhereverTheChunksSplitTheEvents()
    {
        var stream = Encoding.UTF8.GetBytes(OpenAIStream);
        for (var cut = 0; cut <= stream.Length; cut++)
        {
            var events = Sse.Parse(Rewrite(WireFormat.OpenAIChat, stream, [cut]));
            AssertOpenAI(events);
        }
        AssertOpenAI(Sse.Parse(Rewrite(WireFormat.OpenAIChat, stream, Enumerable.Range(1, stream.Length))));
    }

    [Fact]
    public void OpenAI_CrLfLineEnds_AreRead()
    {
        var stream = Encoding.UTF8.GetBytes(OpenAIStream.Replace("\n", "\r\n", StringComparison.Ordinal));
        for (var cut = 0; cut <= stream.Length; cut += 7)
        {
            AssertOpenAI(Sse.Parse(Rewrite(WireFormat.OpenAIChat, stream, [cut, cut + 1])));
        }
    }

    private static void AssertOpenAI(List<SseEvent> events)
    {
        var input = Sse.Parse(OpenAIStream);
        Assert.Equal("[DONE]", events[^1].Data);
        Assert.All(events, e => Assert.Null(e.Name));
        var chunks = events.Take(events.Count - 1).Select(e => e.Json).ToList();
        Assert.All(chunks, c => Assert.Equal("chatcmpl-7", c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("gpt-4o", c.GetProperty("model").GetString()));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal(Masked, string.Concat(chunks.Select(Content)));
        Assert.DoesNotContain(events, e => e.Data.Contains('@', StringComparison.Ordinal));
        // Every event the provider sent is there, in order; all but the text deltas as they came,
        // and the text held back by mask_pii in one more delta before the finish chunk.
        Assert.Equal(input.Count + 1, events.Count);
        Assert.Equal(input[0], events[0]);
        Assert.Equal(input.Skip(3), events.Skip(4));
        Assert.Equal(Masked, Content(events[3].Json));
        Assert.Equal("""{"index":0,"delta":{"content":"Write to [EMAIL], café"},"logprobs":null,"finish_reason":null}""",
            events[3].Json.GetProperty("choices")[0].GetRawText());
        Assert.Equal(5, events[3].Json.GetProperty("created").GetInt64());
        Assert.Equal("fp_1", events[3].Json.GetProperty("system_fingerprint").GetString());
    }

    [Fact]
    public void Anthropic_EmailSplitAcrossDeltas_IsMaskedWithinItsBlock_WhereverTheChunksSplitTheEvents()
    {
        var stream = Encoding.UTF8.GetBytes(AnthropicStream);
        for (var cut = 0; cut <= stream.Length; cut++)
        {
            AssertAnthropic(Sse.Parse(Rewrite(WireFormat.AnthropicMessages, stream, [cut])));
        }
        AssertAnthropic(Sse.Parse(Rewrite(WireFormat.AnthropicMessages, stream, Enumerable.Range(1, stream.Length))));
        var crlf = Encoding.UTF8.GetBytes(AnthropicStream.Replace("\n", "\r\n", StringComparison.Ordinal));
        for (var cut = 0; cut <= crlf.Length; cut += 5)
        {
            AssertAnthropic(Sse.Parse(Rewrite(WireFormat.AnthropicMessages, crlf, [cut, cut + 1])));
        }
    }

    private static void AssertAnthropic(List<SseEvent> events)
    {
        var input = Sse.Parse(AnthropicStream);
        Assert.All(events, e => Assert.Equal(e.Name, e.Type));
        Assert.Equal(input.Count + 1, events.Count);
        Assert.Equal(input.Take(6), events.Take(6));
        Assert.Equal(input.Skip(8), events.Skip(9));
        // The deltas of the text block: what mask_pii let through at once (nothing: it holds back), then the rest before the block's stop.
        var texts = events.Skip(6).Take(3).Select(e => e.Json).ToList();
        Assert.All(texts, t => Assert.Equal(1, t.GetProperty("index").GetInt32()));
        Assert.All(texts, t => Assert.Equal("text_delta", t.GetProperty("delta").GetProperty("type").GetString()));
        Assert.Equal(Masked, string.Concat(texts.Select(t => t.GetProperty("delta").GetProperty("text").GetString())));
        Assert.DoesNotContain(events, e => e.Data.Contains('@', StringComparison.Ordinal));
    }

    [Fact]
    public void OpenAI_TextInTheFinishChunk_TakesWhatWasHeldBack()
    {
        var stream = Sse.Build(
            (null, Chunk("""{"index":0,"delta":{"content":"mail bob@exa"},"finish_reason":null}""")),
            (null, Chunk("""{"index":0,"delta":{"content":"mple.com"},"finish_reason":"stop"}""")),
            (null, "[DONE]"));

        var events = Sse.Parse(Rewrite(WireFormat.OpenAIChat, Encoding.UTF8.GetBytes(stream), []));

        Assert.Equal(3, events.Count);
        Assert.Equal(string.Empty, Content(events[0].Json));
        var last = events[1].Json.GetProperty("choices")[0];
        Assert.Equal("mail [EMAIL]", last.GetProperty("delta").GetProperty("content").GetString());
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void OpenAI_OtherChoicesAndNonJsonEvents_PassAsTheyCame()
    {
        var stream = Sse.Build(
            (null, Chunk("""{"index":1,"delta":{"content":"b@c.de"},"finish_reason":null}""")),
            (null, "not json"),
            ("custom", """{"choices":5}"""),
            (null, "[DONE]"));

        Assert.Equal(stream, Rewrite(WireFormat.OpenAIChat, Encoding.UTF8.GetBytes(stream), []));
    }

    [Fact]
    public void Anthropic_TwoTextBlocks_EachKeepsItsOwnText()
    {
        var stream = Sse.Build(
            ("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"a@b"}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":".com one"}}"""),
            ("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            ("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"two c@d.org"}}"""),
            ("content_block_stop", """{"type":"content_block_stop","index":1}"""),
            ("message_stop", """{"type":"message_stop"}"""));

        var events = Sse.Parse(Rewrite(WireFormat.AnthropicMessages, Encoding.UTF8.GetBytes(stream), []));

        string Text(int index) => string.Concat(events.Where(e => e.Type is "content_block_delta" or "content_block_start" && e.Json.GetProperty("index").GetInt32() == index)
            .Select(e => e.Type == "content_block_start" ? e.Json.GetProperty("content_block").GetProperty("text").GetString() : e.Json.GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal("[EMAIL] one", Text(0));
        Assert.Equal("two [EMAIL]", Text(1));
        var order = events.Select(e => (e.Type, e.Json.TryGetProperty("index", out var i) ? i.GetInt32() : -1)).ToList();
        Assert.Equal(order.IndexOf(("content_block_stop", 0)) + 1, order.IndexOf(("content_block_start", 1)));
        Assert.Equal(("content_block_delta", 1), order[order.IndexOf(("content_block_stop", 1)) - 1]);
    }

    [Fact]
    public void EventsWithoutText_AreWrittenByteForByte()
    {
        var stream = Sse.Build(
            ("message_start", """{"type":"message_start","message":{"id":"m","usage":{"input_tokens":1}}}"""),
            ("ping", """{"type":"ping"}"""),
            ("message_stop", """{"type":"message_stop"}"""));

        Assert.Equal(stream, Rewrite(WireFormat.AnthropicMessages, Encoding.UTF8.GetBytes(stream), [3, 40]));
    }

    private static string? Content(System.Text.Json.JsonElement chunk)
        => chunk.GetProperty("choices") is { ValueKind: System.Text.Json.JsonValueKind.Array } choices && choices.GetArrayLength() > 0
           && choices[0].GetProperty("delta").TryGetProperty("content", out var content)
            ? content.GetString()
            : null;

    /// <summary>
    /// Feeds the stream in pieces through a session and the real <c>mask_pii</c> rewriter, as the
    /// pipeline does: text pushed, drained into the event where it ends, flushed at the end.
    /// </summary>
    private static string Rewrite(WireFormat format, byte[] stream, IEnumerable<int> cuts)
    {
        var session = new SseTextCodec().Begin(format)!;
        var rewriter = new MaskPiiExtension().BeginStream(new ExtensionInput
        {
            TenantId = "t",
            RequestId = "r",
            Payload = ReadOnlyMemory<byte>.Empty,
            PayloadKind = PayloadKind.Text,
            Metadata = new Dictionary<string, string>(),
        });
        var output = new ArrayBufferWriter<byte>();
        var start = 0;
        foreach (var cut in cuts.Append(stream.Length))
        {
            if (cut < start || cut > stream.Length)
            {
                continue;
            }
            Write(session.Push(stream.AsSpan(start, cut - start)));
            start = cut;
        }
        Write(session.Complete());
        if (rewriter.Flush() is { Length: > 0 } rest)
        {
            session.WriteText(rest, output);
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);

        void Write(IReadOnlyList<StreamTextEvent> events)
        {
            foreach (var item in events)
            {
                var text = item.Text is { Length: > 0 } delta ? rewriter.Push(delta) : item.Text;
                if (item.EndsText && rewriter.Flush() is { Length: > 0 } held)
                {
                    text += held;
                }
                item.WriteTo(output, text);
            }
        }
    }
}
