using System.Text;
using System.Text.Json;
using Beamline.Gateway.Translation;
using Beamline.Pipeline;

namespace Beamline.Gateway.Tests.Translation;

public sealed class CrossFormatAnswerTests
{
    internal const string OpenAIAnswer = """
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-2024","choices":[{"index":0,
          "message":{"role":"assistant","content":"Let me check.","refusal":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
          "logprobs":null,"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":120,"completion_tokens":15,"total_tokens":135,"prompt_tokens_details":{"cached_tokens":100}}}
        """;

    internal const string AnthropicAnswer = """
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet","content":[
          {"type":"thinking","thinking":"hmm","signature":"sig"},
          {"type":"text","text":"Let me check."},
          {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":0,"output_tokens":15}}
        """;

    private static JsonElement Translate(string answer, WireFormat from, WireFormat to, string? model = "client-model")
        => JsonDocument.Parse(CrossFormat.TranslateAnswer(Encoding.UTF8.GetBytes(answer), from, to, model)).RootElement;

    [Fact]
    public void OpenAIToAnthropic_TextToolCallsStopUsageAndModel_AreMapped()
    {
        var message = Translate(OpenAIAnswer, WireFormat.OpenAIChat, WireFormat.AnthropicMessages);

        Assert.Equal("chatcmpl-1", message.GetProperty("id").GetString());
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("client-model", message.GetProperty("model").GetString());
        Assert.Equal("""[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}}]""",
            message.GetProperty("content").GetRawText());
        Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
        // input_tokens excludes the cached tokens Anthropic reports beside it.
        Assert.Equal("""{"input_tokens":20,"cache_read_input_tokens":100,"output_tokens":15}""", message.GetProperty("usage").GetRawText());
    }

    [Fact]
    public void AnthropicToOpenAI_TextToolUseStopUsageAndModel_AreMapped()
    {
        var completion = Translate(AnthropicAnswer, WireFormat.AnthropicMessages, WireFormat.OpenAIChat);

        Assert.Equal("msg_1", completion.GetProperty("id").GetString());
        Assert.Equal("chat.completion", completion.GetProperty("object").GetString());
        Assert.Equal("client-model", completion.GetProperty("model").GetString());
        var choice = completion.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal("Let me check.", message.GetProperty("content").GetString());
        Assert.Equal("""[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]""", message.GetProperty("tool_calls").GetRawText());
        Assert.Equal("""{"prompt_tokens":120,"completion_tokens":15,"total_tokens":135,"prompt_tokens_details":{"cached_tokens":100}}""",
            completion.GetProperty("usage").GetRawText());
    }

    [Theory]
    [InlineData("stop", "end_turn")]
    [InlineData("length", "max_tokens")]
    [InlineData("tool_calls", "tool_use")]
    [InlineData("content_filter", "refusal")]
    public void OpenAIToAnthropic_FinishReason_IsMapped(string finish, string expected)
    {
        var answer = $$"""{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"{{finish}}"}]}""";

        Assert.Equal(expected, Translate(answer, WireFormat.OpenAIChat, WireFormat.AnthropicMessages).GetProperty("stop_reason").GetString());
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("refusal", "content_filter")]
    [InlineData("pause_turn", "stop")]
    public void AnthropicToOpenAI_StopReason_IsMapped(string reason, string expected)
    {
        var answer = $$$"""{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"x"}],"stop_reason":"{{{reason}}}","usage":{"input_tokens":1,"output_tokens":1}}""";

        Assert.Equal(expected, Translate(answer, WireFormat.AnthropicMessages, WireFormat.OpenAIChat).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void AnthropicToOpenAI_OnlyToolUse_HasNullContent()
    {
        var answer = """{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}""";

        var message = Translate(answer, WireFormat.AnthropicMessages, WireFormat.OpenAIChat).GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        Assert.Equal("{}", message.GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
    }

    [Fact]
    public void NullClientModel_KeepsTheUpstreamModel()
        => Assert.Equal("claude-sonnet", Translate(AnthropicAnswer, WireFormat.AnthropicMessages, WireFormat.OpenAIChat, model: null).GetProperty("model").GetString());

    [Fact]
    public void OpenAIToAnthropicToOpenAI_RoundTrip_KeepsContentToolCallsFinishAndUsage()
    {
        var anthropic = CrossFormat.TranslateAnswer(Encoding.UTF8.GetBytes(OpenAIAnswer), WireFormat.OpenAIChat, WireFormat.AnthropicMessages, null);
        var back = JsonDocument.Parse(CrossFormat.TranslateAnswer(anthropic, WireFormat.AnthropicMessages, WireFormat.OpenAIChat, null)).RootElement;
        var original = JsonDocument.Parse(OpenAIAnswer).RootElement;

        Assert.Equal(original.GetProperty("usage").GetRawText(), back.GetProperty("usage").GetRawText());
        Assert.Equal(original.GetProperty("model").GetString(), back.GetProperty("model").GetString());
        var message = back.GetProperty("choices")[0].GetProperty("message");
        var expected = original.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(expected.GetProperty("content").GetString(), message.GetProperty("content").GetString());
        Assert.True(JsonElement.DeepEquals(expected.GetProperty("tool_calls"), message.GetProperty("tool_calls")), message.GetProperty("tool_calls").GetRawText());
        Assert.Equal("tool_calls", back.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat)]
    [InlineData(WireFormat.AnthropicMessages)]
    public void ToResponses_TextAndToolCalls_BecomeOutputItemsWithUsage(WireFormat from)
    {
        var response = Translate(from == WireFormat.OpenAIChat ? OpenAIAnswer : AnthropicAnswer, from, WireFormat.OpenAIResponses);

        Assert.Equal("response", response.GetProperty("object").GetString());
        Assert.StartsWith("resp_", response.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("completed", response.GetProperty("status").GetString());
        Assert.Equal("client-model", response.GetProperty("model").GetString());
        var output = response.GetProperty("output");
        Assert.Equal(2, output.GetArrayLength());
        Assert.Equal("message", output[0].GetProperty("type").GetString());
        Assert.Equal("assistant", output[0].GetProperty("role").GetString());
        Assert.Equal("""[{"type":"output_text","text":"Let me check.","annotations":[]}]""", output[0].GetProperty("content").GetRawText());
        Assert.Equal("function_call", output[1].GetProperty("type").GetString());
        Assert.Equal("weather", output[1].GetProperty("name").GetString());
        Assert.Equal("{\"city\":\"Paris\"}", output[1].GetProperty("arguments").GetString());
        Assert.False(string.IsNullOrEmpty(output[1].GetProperty("call_id").GetString()));
        var usage = response.GetProperty("usage");
        Assert.Equal(120, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(100, usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(15, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(135, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public void ToResponses_CutByTheTokenLimit_IsIncomplete()
    {
        var answer = """{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Once upon"},"finish_reason":"length"}]}""";

        var response = Translate(answer, WireFormat.OpenAIChat, WireFormat.OpenAIResponses);

        Assert.Equal("incomplete", response.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", response.GetProperty("incomplete_details").GetProperty("reason").GetString());
    }

    [Fact]
    public void SameFormat_PassesTheAnswerThroughUnchanged()
    {
        var bytes = Encoding.UTF8.GetBytes(AnthropicAnswer);

        Assert.Equal(bytes, CrossFormat.TranslateAnswer(bytes, WireFormat.AnthropicMessages, WireFormat.AnthropicMessages, "other"));
    }

    [Theory]
    [InlineData("not json", WireFormat.OpenAIChat)]
    [InlineData("""{"id":"x"}""", WireFormat.OpenAIChat)]
    [InlineData("""{"id":"x","type":"message"}""", WireFormat.AnthropicMessages)]
    [InlineData("""{"type":"error","error":{"type":"overloaded_error","message":"busy"}}""", WireFormat.AnthropicMessages)]
    public void UnreadableAnswer_ThrowsGatewayFormatException(string answer, WireFormat from)
        => Assert.Throws<GatewayFormatException>(() => Translate(answer, from, from == WireFormat.OpenAIChat ? WireFormat.AnthropicMessages : WireFormat.OpenAIChat));

    [Fact]
    public void AnswerFromResponsesOrEmbeddings_CannotBeTranslated()
        => Assert.Throws<GatewayFormatException>(() => Translate("""{"object":"list","data":[]}""", WireFormat.OpenAIEmbeddings, WireFormat.AnthropicMessages));
}
