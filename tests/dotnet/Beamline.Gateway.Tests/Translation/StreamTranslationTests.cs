using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Beamline.Gateway.Translation;
using Beamline.Pipeline;

namespace Beamline.Gateway.Tests.Translation;

public sealed partial class StreamTranslationTests
{
    // An OpenAI stream as OpenAI sends it: role, text, one tool call in three pieces, finish, usage, [DONE].
    internal static readonly string OpenAIStream = Sse.Build(
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Héllo"},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"""),
        (null, """{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":10}}}"""),
        (null, "[DONE]"));

    // An Anthropic stream as Anthropic sends it, with a ping and a thinking block to drop.
    internal static readonly string AnthropicStream = Sse.Build(
        ("message_start", """{"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","model":"claude-sonnet","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"cache_read_input_tokens":10,"output_tokens":1}}}"""),
        ("ping", """{"type":"ping"}"""),
        ("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"secret"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":0}"""),
        ("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Héllo"}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" world"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":1}"""),
        ("content_block_start", """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"weather","input":{}}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"""),
        ("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"""),
        ("content_block_stop", """{"type":"content_block_stop","index":2}"""),
        ("message_delta", """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}}"""),
        ("message_stop", """{"type":"message_stop"}"""));

    private static string Translate(string stream, WireFormat from, WireFormat to)
        => Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), stream);

    [Fact]
    public void OpenAIToAnthropic_Stream_BecomesMessageEventsWithTextAndToolUseBlocks()
    {
        var events = Sse.Parse(Translate(OpenAIStream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages));

        Assert.Equal(
            ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "content_block_start",
             "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
            events.Select(e => e.Name));
        Assert.All(events, e => Assert.Equal(e.Name, e.Type));
        var start = events[0].Json.GetProperty("message");
        Assert.Equal("chatcmpl-9", start.GetProperty("id").GetString());
        Assert.Equal("client-model", start.GetProperty("model").GetString());
        Assert.Equal("text", events[1].Json.GetProperty("content_block").GetProperty("type").GetString());
        Assert.Equal("Héllo world", string.Concat(events.Skip(2).Take(2).Select(e => e.Json.GetProperty("delta").GetProperty("text").GetString())));
        var tool = events[5].Json;
        Assert.Equal(1, tool.GetProperty("index").GetInt32());
        Assert.Equal("""{"type":"tool_use","id":"call_1","name":"weather","input":{}}""", tool.GetProperty("content_block").GetRawText());
        Assert.Equal("input_json_delta", events[6].Json.GetProperty("delta").GetProperty("type").GetString());
        Assert.Equal("{\"city\":\"Paris\"}", string.Concat(events.Skip(6).Take(2).Select(e => e.Json.GetProperty("delta").GetProperty("partial_json").GetString())));
        var delta = events[9].Json;
        Assert.Equal("tool_use", delta.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal("""{"input_tokens":20,"cache_read_input_tokens":10,"output_tokens":12}""", delta.GetProperty("usage").GetRawText());
    }

    [Fact]
    public void AnthropicToOpenAI_Stream_BecomesChunksWithToolCallDeltasFinishUsageAndDone()
    {
        var events = Sse.Parse(Translate(AnthropicStream, WireFormat.AnthropicMessages, WireFormat.OpenAIChat));

        Assert.All(events, e => Assert.Null(e.Name));
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events.Take(events.Count - 1).Select(e => e.Json).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal("msg_9", c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("client-model", c.GetProperty("model").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.Equal("Héllo world", string.Concat(deltas.Select(d => d.GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : "")));
        Assert.DoesNotContain("secret", string.Concat(chunks.Select(c => c.GetRawText())), StringComparison.Ordinal);
        var calls = deltas.Where(d => d.GetProperty("delta").TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("delta").GetProperty("tool_calls")[0]).ToList();
        Assert.Equal("""{"index":0,"id":"toolu_1","type":"function","function":{"name":"weather","arguments":""}}""", calls[0].GetRawText());
        Assert.All(calls, c => Assert.Equal(0, c.GetProperty("index").GetInt32()));
        Assert.Equal("{\"city\":\"Paris\"}", string.Concat(calls.Skip(1).Select(c => c.GetProperty("function").GetProperty("arguments").GetString())));
        Assert.Equal("tool_calls", deltas[^1].GetProperty("finish_reason").GetString());
        Assert.Single(deltas, d => d.GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal("""{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":10}}""", usage.GetProperty("usage").GetRawText());
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat)]
    [InlineData(WireFormat.AnthropicMessages)]
    public void ToResponses_Stream_BecomesTypedEventsEndingInCompletedWithUsage(WireFormat from)
    {
        var events = Sse.Parse(Translate(from == WireFormat.OpenAIChat ? OpenAIStream : AnthropicStream, from, WireFormat.OpenAIResponses));

        Assert.Equal(
            ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta",
             "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done",
             "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
             "response.function_call_arguments.done", "response.output_item.done", "response.completed"],
            events.Select(e => e.Name));
        Assert.All(events, e => Assert.Equal(e.Name, e.Type));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Json.GetProperty("sequence_number").GetInt32()));
        Assert.Equal("Héllo world", events[6].Json.GetProperty("text").GetString());
        Assert.Equal(events[2].Json.GetProperty("item").GetProperty("id").GetString(), events[4].Json.GetProperty("item_id").GetString());
        Assert.Equal(1, events[9].Json.GetProperty("output_index").GetInt32());
        Assert.Equal("{\"city\":\"Paris\"}", events[12].Json.GetProperty("arguments").GetString());
        var response = events[^1].Json.GetProperty("response");
        Assert.Equal("completed", response.GetProperty("status").GetString());
        Assert.Equal("client-model", response.GetProperty("model").GetString());
        Assert.Equal(2, response.GetProperty("output").GetArrayLength());
        Assert.Equal("Héllo world", response.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("weather", response.GetProperty("output")[1].GetProperty("name").GetString());
        Assert.Equal(30, response.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(12, response.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal(10, response.GetProperty("usage").GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    public static TheoryData<WireFormat, WireFormat> Pairs => new()
    {
        { WireFormat.OpenAIChat, WireFormat.AnthropicMessages },
        { WireFormat.AnthropicMessages, WireFormat.OpenAIChat },
        { WireFormat.OpenAIChat, WireFormat.OpenAIResponses },
        { WireFormat.AnthropicMessages, WireFormat.OpenAIResponses },
    };

    // Property: however the upstream's bytes are cut into chunks (at every offset, at every pair
    // of offsets, byte by byte), the client gets the same events as from one whole chunk.
    [Theory]
    [MemberData(nameof(Pairs))]
    public void SplitAtAnyByte_GivesTheSameEventsAsWhole(WireFormat from, WireFormat to)
    {
        var stream = Encoding.UTF8.GetBytes(from == WireFormat.OpenAIChat ? OpenAIStream : AnthropicStream);
        var whole = Normalize(Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), stream, []));

        for (var cut = 0; cut <= stream.Length; cut++)
        {
            Assert.Equal(whole, Normalize(Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), stream, [cut])));
        }
        var random = new Random(42);
        for (var i = 0; i < 300; i++)
        {
            var cuts = Enumerable.Range(0, random.Next(2, 12)).Select(_ => random.Next(stream.Length + 1)).Order().ToArray();
            Assert.Equal(whole, Normalize(Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), stream, cuts)));
        }
        Assert.Equal(whole, Normalize(Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), stream, Enumerable.Range(1, stream.Length - 1))));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void CrLfLineEndings_GiveTheSameEventsAsLf(WireFormat from, WireFormat to)
    {
        var lf = from == WireFormat.OpenAIChat ? OpenAIStream : AnthropicStream;
        var crlf = Encoding.UTF8.GetBytes(lf.Replace("\n", "\r\n", StringComparison.Ordinal));
        var expected = Normalize(Translate(lf, from, to));

        for (var cut = 0; cut <= crlf.Length; cut++)
        {
            Assert.Equal(expected, Normalize(Sse.Feed(CrossFormat.StreamTranslator(from, to, "client-model"), crlf, [cut])));
        }
    }

    [Fact]
    public void OpenAIErrorChunk_BecomesAnAnthropicErrorEvent()
    {
        var stream = Sse.Build(
            (null, """{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"""),
            (null, """{"error":{"message":"The server had an error","type":"rate_limit_exceeded","code":null}}"""),
            (null, """{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"after"},"finish_reason":null}]}"""));

        var events = Sse.Parse(Translate(stream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages));

        var error = events[^1];
        Assert.Equal("error", error.Name);
        Assert.Equal("""{"type":"error","error":{"type":"rate_limit_error","message":"The server had an error"}}""", error.Data);
        Assert.DoesNotContain(events, e => e.Data.Contains("after", StringComparison.Ordinal));
    }

    [Fact]
    public void AnthropicErrorEvent_BecomesAnOpenAIErrorChunkAndAResponsesErrorEvent()
    {
        var stream = Sse.Build(
            ("message_start", """{"type":"message_start","message":{"id":"msg_1","model":"c","usage":{"input_tokens":1,"output_tokens":1}}}"""),
            ("error", """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""));

        var chat = Sse.Parse(Translate(stream, WireFormat.AnthropicMessages, WireFormat.OpenAIChat));
        var responses = Sse.Parse(Translate(stream, WireFormat.AnthropicMessages, WireFormat.OpenAIResponses));

        var error = chat[^1].Json.GetProperty("error");
        Assert.Equal("Overloaded", error.GetProperty("message").GetString());
        Assert.Equal("service_unavailable", error.GetProperty("type").GetString());
        Assert.DoesNotContain(chat, e => e.Data == "[DONE]");
        Assert.Equal("error", responses[^1].Name);
        Assert.Equal("overloaded_error", responses[^1].Json.GetProperty("code").GetString());
        Assert.Equal("Overloaded", responses[^1].Json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat, WireFormat.AnthropicMessages)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.OpenAIChat)]
    public void DataThatIsNotJson_EndsTheStreamWithAnErrorEvent(WireFormat from, WireFormat to)
    {
        var stream = Sse.Build((from == WireFormat.AnthropicMessages ? "message_start" : null, "{not json"), (null, """{"type":"message_stop"}"""));

        var events = Sse.Parse(Translate(stream, from, to));

        var error = Assert.Single(events);
        Assert.Contains("could not be read", error.Data, StringComparison.Ordinal);
        Assert.Equal(to == WireFormat.AnthropicMessages ? "error" : null, error.Name);
    }

    [Fact]
    public void CommentsUnknownFieldsAndMultiLineData_AreReadAsSse()
    {
        // A comment, an id and retry field, and one JSON document spread over two data lines.
        const string Stream = ": keep-alive\nid: 1\nretry: 100\nevent: message_start\ndata: {\"type\":\"message_start\",\ndata: \"message\":{\"id\":\"msg_1\",\"model\":\"c\"}}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n"
            + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

        var events = Sse.Parse(Translate(Stream, WireFormat.AnthropicMessages, WireFormat.OpenAIChat));

        Assert.Equal("msg_1", events[0].Json.GetProperty("id").GetString());
        Assert.Equal("stop", events[1].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal("[DONE]", events[^1].Data);
    }

    [Fact]
    public void LastEventWithoutBlankLine_IsReadAtTheEnd()
    {
        var stream = OpenAIStream.TrimEnd('\n');

        Assert.Equal(Normalize(Translate(OpenAIStream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages)),
            Normalize(Translate(stream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages)));
    }

    [Fact]
    public void StreamThatStoppedWithoutDone_IsEndedAtTheEnd()
    {
        var stream = OpenAIStream[..OpenAIStream.IndexOf("data: [DONE]", StringComparison.Ordinal)];

        var events = Sse.Parse(Translate(stream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages));

        Assert.Equal(["message_delta", "message_stop"], events.TakeLast(2).Select(e => e.Name));
    }

    [Fact]
    public void StreamCutBeforeItsFinish_IsNotEndedCleanly()
    {
        // The upstream went away mid-answer: no stop reason, so no made-up end (the face adds the error).
        var stream = OpenAIStream[..OpenAIStream.IndexOf("Paris", StringComparison.Ordinal)];

        var events = Sse.Parse(Translate(stream, WireFormat.OpenAIChat, WireFormat.AnthropicMessages));

        Assert.DoesNotContain(events, e => e.Name is "message_delta" or "message_stop");
    }

    [Fact]
    public void SameFormat_PassesChunksThroughUntouched()
    {
        var translator = CrossFormat.StreamTranslator(WireFormat.AnthropicMessages, WireFormat.AnthropicMessages, "x");
        var chunk = Encoding.UTF8.GetBytes("event: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"thinking\":");

        Assert.Equal(chunk, translator.Push(chunk).ToArray());
        Assert.True(translator.Finish().IsEmpty);
    }

    [Fact]
    public void UnsupportedPair_Throws()
        => Assert.Throws<GatewayFormatException>(() => CrossFormat.StreamTranslator(WireFormat.OpenAIEmbeddings, WireFormat.AnthropicMessages, null));

    [Theory]
    [InlineData(WireFormat.OpenAIChat, WireFormat.AnthropicMessages)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.OpenAIChat)]
    [InlineData(WireFormat.OpenAIChat, WireFormat.OpenAIChat)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.AnthropicMessages)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.OpenAIResponses)]
    public void AnswerAsEvents_WholeAnswer_IsTheStreamOfTheSameAnswer(WireFormat from, WireFormat to)
    {
        var answer = Encoding.UTF8.GetBytes(from == WireFormat.OpenAIChat ? CrossFormatAnswerTests.OpenAIAnswer : CrossFormatAnswerTests.AnthropicAnswer);

        var events = Sse.Parse(Encoding.UTF8.GetString(CrossFormat.AnswerAsEvents(answer, from, to, "client-model")));

        switch (to)
        {
            case WireFormat.AnthropicMessages:
                Assert.Equal(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "content_block_start",
                    "content_block_delta", "content_block_stop", "message_delta", "message_stop"], events.Select(e => e.Name));
                Assert.Equal("Let me check.", events[2].Json.GetProperty("delta").GetProperty("text").GetString());
                Assert.Equal("{\"city\":\"Paris\"}", events[5].Json.GetProperty("delta").GetProperty("partial_json").GetString());
                Assert.Equal("tool_use", events[7].Json.GetProperty("delta").GetProperty("stop_reason").GetString());
                Assert.Equal(15, events[7].Json.GetProperty("usage").GetProperty("output_tokens").GetInt32());
                break;
            case WireFormat.OpenAIChat:
                Assert.Equal("[DONE]", events[^1].Data);
                Assert.Equal("Let me check.", events[1].Json.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
                Assert.Equal("weather", events[2].Json.GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
                Assert.Equal("tool_calls", events[4].Json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
                Assert.Equal(135, events[5].Json.GetProperty("usage").GetProperty("total_tokens").GetInt32());
                break;
            default:
                Assert.Equal("response.completed", events[^1].Name);
                Assert.Equal(2, events[^1].Json.GetProperty("response").GetProperty("output").GetArrayLength());
                break;
        }
    }

    [Fact]
    public void AnswerAsEvents_OpaqueAnswer_Throws()
        => Assert.Throws<GatewayFormatException>(() => CrossFormat.AnswerAsEvents("hello"u8, WireFormat.None, WireFormat.OpenAIChat, null));

    // Timestamps are the translator's clock; everything else must be equal.
    private static string Normalize(string events) => CreatedPattern().Replace(events, "\"created$1\":0");

    [GeneratedRegex("\"created(_at)?\":\\d+")]
    private static partial Regex CreatedPattern();
}
