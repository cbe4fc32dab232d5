using System.Text;
using System.Text.Json;
using Beamline.Gateway.Translation;
using Beamline.Pipeline;

namespace Beamline.Gateway.Tests.Translation;

public sealed class CrossFormatRequestTests
{
    private static JsonElement Translate(string body, WireFormat from, WireFormat to, string? model = null)
        => JsonDocument.Parse(CrossFormat.TranslateRequest(Encoding.UTF8.GetBytes(body), from, to, model)).RootElement;

    private static JsonElement ToAnthropic(string body, string? model = null) => Translate(body, WireFormat.OpenAIChat, WireFormat.AnthropicMessages, model);

    private static JsonElement ToChat(string body, string? model = null) => Translate(body, WireFormat.AnthropicMessages, WireFormat.OpenAIChat, model);

    [Theory]
    [InlineData(WireFormat.OpenAIChat, WireFormat.AnthropicMessages, true)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.OpenAIChat, true)]
    [InlineData(WireFormat.OpenAIResponses, WireFormat.OpenAIChat, true)]
    [InlineData(WireFormat.OpenAIResponses, WireFormat.AnthropicMessages, true)]
    [InlineData(WireFormat.OpenAIEmbeddings, WireFormat.AnthropicMessages, false)]
    [InlineData(WireFormat.AnthropicMessages, WireFormat.OpenAIResponses, false)]
    public void CanTranslateRequest_SaysWhichPairsHaveATranslation(WireFormat from, WireFormat to, bool expected)
        => Assert.Equal(expected, CrossFormat.CanTranslateRequest(from, to));

    [Fact]
    public void ChatToAnthropic_SystemAndDeveloperMessages_BecomeTheTopLevelSystem()
    {
        var request = ToAnthropic("""
            {"model":"gpt","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Use French."}]},
              {"role":"user","content":"Hi"}]}
            """);

        Assert.Equal("Be brief.\n\nUse French.", request.GetProperty("system").GetString());
        var message = Assert.Single(request.GetProperty("messages").EnumerateArray());
        Assert.Equal("user", message.GetProperty("role").GetString());
        Assert.Equal("""[{"type":"text","text":"Hi"}]""", message.GetProperty("content").GetRawText());
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}]}""", 4096)]
    [InlineData("""{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"}]}""", 50)]
    [InlineData("""{"model":"m","max_tokens":50,"max_completion_tokens":70,"messages":[{"role":"user","content":"x"}]}""", 70)]
    public void ChatToAnthropic_MaxTokens_IsMaxCompletionTokensElseMaxTokensElse4096(string body, int expected)
        => Assert.Equal(expected, ToAnthropic(body).GetProperty("max_tokens").GetInt32());

    [Fact]
    public void ChatToAnthropic_ImageParts_BecomeBase64OrUrlSources()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}},
              {"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}
            """);

        var content = request.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal(3, content.GetArrayLength());
        Assert.Equal("What is this?", content[0].GetProperty("text").GetString());
        Assert.Equal("""{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}""", content[1].GetRawText());
        Assert.Equal("""{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}""", content[2].GetRawText());
    }

    [Fact]
    public void ChatToAnthropic_ToolCallsAndResults_BecomeToolUseAndOneMergedToolResultMessage()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":"Let me look.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"18C"},
              {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"25C"}]},
              {"role":"user","content":"Thanks"}]}
            """);

        var messages = request.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Equal(["user", "assistant", "user"], messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        var assistant = messages[1].GetProperty("content");
        Assert.Equal("Let me look.", assistant[0].GetProperty("text").GetString());
        Assert.Equal("""{"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}}""", assistant[1].GetRawText());
        Assert.Equal("Rome", assistant[2].GetProperty("input").GetProperty("city").GetString());
        // Both results and the user's next text are one user message: the roles must alternate.
        var results = messages[2].GetProperty("content");
        Assert.Equal(3, results.GetArrayLength());
        Assert.Equal("""{"type":"tool_result","tool_use_id":"call_1","content":"18C"}""", results[0].GetRawText());
        Assert.Equal("""{"type":"tool_result","tool_use_id":"call_2","content":"25C"}""", results[1].GetRawText());
        Assert.Equal("Thanks", results[2].GetProperty("text").GetString());
    }

    [Fact]
    public void ChatToAnthropic_MalformedToolArguments_BecomeAnEmptyInput()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}
            """);

        Assert.Equal("{}", request.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("input").GetRawText());
    }

    [Fact]
    public void ChatToAnthropic_ConsecutiveMessagesOfOneRole_AreMerged()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"assistant","content":"c"},{"role":"assistant","content":"d"}]}
            """);

        var messages = request.GetProperty("messages");
        Assert.Equal(2, messages.GetArrayLength());
        Assert.Equal("""[{"type":"text","text":"a"},{"type":"text","text":"b"}]""", messages[0].GetProperty("content").GetRawText());
        Assert.Equal("""[{"type":"text","text":"c"},{"type":"text","text":"d"}]""", messages[1].GetProperty("content").GetRawText());
    }

    [Fact]
    public void ChatToAnthropic_Tools_BecomeInputSchemaTools()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"user","content":"x"}],
             "tools":[{"type":"function","function":{"name":"weather","description":"Gets the weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
            """);

        Assert.Equal("""[{"name":"weather","description":"Gets the weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""",
            request.GetProperty("tools").GetRawText());
        Assert.False(request.TryGetProperty("tool_choice", out _));
    }

    [Theory]
    [InlineData("\"auto\"", """{"type":"auto"}""")]
    [InlineData("\"required\"", """{"type":"any"}""")]
    [InlineData("""{"type":"function","function":{"name":"weather"}}""", """{"type":"tool","name":"weather"}""")]
    public void ChatToAnthropic_ToolChoice_IsMapped(string choice, string expected)
    {
        var request = ToAnthropic($$$$"""
            {"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{{{{choice}}}},
             "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]}
            """);

        Assert.Equal(expected, request.GetProperty("tool_choice").GetRawText());
    }

    [Fact]
    public void ChatToAnthropic_ToolChoiceNone_LeavesTheToolsOut()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}]}
            """);

        Assert.False(request.TryGetProperty("tools", out _));
        Assert.False(request.TryGetProperty("tool_choice", out _));
    }

    [Fact]
    public void ChatToAnthropic_ParallelToolCallsFalse_DisablesParallelToolUse()
    {
        var request = ToAnthropic("""
            {"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false,"tools":[{"type":"function","function":{"name":"f"}}]}
            """);

        Assert.Equal("""{"type":"auto","disable_parallel_tool_use":true}""", request.GetProperty("tool_choice").GetRawText());
    }

    [Fact]
    public void ChatToAnthropic_SamplingStopStreamAndUser_AreCarriedAndOpenAIOnlyFieldsDropped()
    {
        var request = ToAnthropic("""
            {"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":0.5,"top_p":0.9,"stop":"END","stream":true,
             "stream_options":{"include_usage":true},"user":"u-42","n":1,"seed":7,"presence_penalty":0.1,"response_format":{"type":"json_object"},"logprobs":true}
            """, model: "claude-x");

        Assert.Equal("claude-x", request.GetProperty("model").GetString());
        Assert.Equal(0.5, request.GetProperty("temperature").GetDouble());
        Assert.Equal(0.9, request.GetProperty("top_p").GetDouble());
        Assert.Equal("""["END"]""", request.GetProperty("stop_sequences").GetRawText());
        Assert.True(request.GetProperty("stream").GetBoolean());
        Assert.Equal("u-42", request.GetProperty("metadata").GetProperty("user_id").GetString());
        foreach (var dropped in new[] { "stream_options", "user", "n", "seed", "presence_penalty", "response_format", "logprobs", "stop", "messages_" })
        {
            Assert.False(request.TryGetProperty(dropped, out _), dropped);
        }
    }

    [Fact]
    public void ChatToAnthropic_WithoutUpstreamModel_KeepsTheClientsModel()
        => Assert.Equal("gpt", ToAnthropic("""{"model":"gpt","messages":[{"role":"user","content":"x"}]}""").GetProperty("model").GetString());

    [Fact]
    public void AnthropicToChat_SystemStringOrBlocks_BecomesTheFirstMessage()
    {
        var fromString = ToChat("""{"model":"c","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]}""");
        var fromBlocks = ToChat("""
            {"model":"c","max_tokens":10,"system":[{"type":"text","text":"Be ","cache_control":{"type":"ephemeral"}},{"type":"text","text":"brief."}],"messages":[{"role":"user","content":"Hi"}]}
            """);

        foreach (var request in new[] { fromString, fromBlocks })
        {
            Assert.Equal("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]""", request.GetProperty("messages").GetRawText());
            Assert.Equal(10, request.GetProperty("max_tokens").GetInt32());
        }
    }

    [Fact]
    public void AnthropicToChat_ToolUseAndToolResults_BecomeToolCallsAndToolMessagesBeforeTheUsersText()
    {
        var request = ToChat("""
            {"model":"c","max_tokens":10,"messages":[
              {"role":"user","content":"Weather?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"text","text":"And quickly."},{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"}]},
                {"type":"tool_result","tool_use_id":"toolu_2","content":"boom","is_error":true}]}]}
            """);

        var messages = request.GetProperty("messages");
        Assert.Equal(5, messages.GetArrayLength());
        Assert.Equal("""{"role":"user","content":"Weather?"}""", messages[0].GetRawText());
        Assert.Equal("""{"role":"assistant","content":"Looking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]}""",
            messages[1].GetRawText());
        Assert.Equal("""{"role":"tool","tool_call_id":"toolu_1","content":"18C"}""", messages[2].GetRawText());
        Assert.Equal("Error: boom", messages[3].GetProperty("content").GetString());
        Assert.Equal("""{"role":"user","content":[{"type":"text","text":"And quickly."}]}""", messages[4].GetRawText());
    }

    [Fact]
    public void AnthropicToChat_ImageSources_BecomeImageUrls()
    {
        var request = ToChat("""
            {"model":"c","max_tokens":10,"messages":[{"role":"user","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},
              {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}
            """);

        var content = request.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal("data:image/jpeg;base64,/9j/4AAQ", content[0].GetProperty("image_url").GetProperty("url").GetString());
        Assert.Equal("https://example.com/a.png", content[1].GetProperty("image_url").GetProperty("url").GetString());
    }

    [Theory]
    [InlineData("""{"type":"auto"}""", "\"auto\"")]
    [InlineData("""{"type":"any"}""", "\"required\"")]
    [InlineData("""{"type":"none"}""", "\"none\"")]
    [InlineData("""{"type":"tool","name":"weather"}""", """{"type":"function","function":{"name":"weather"}}""")]
    public void AnthropicToChat_ToolChoice_IsMapped(string choice, string expected)
    {
        var request = ToChat($$$"""
            {"model":"c","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tool_choice":{{{choice}}},
             "tools":[{"name":"weather","description":"d","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}]}
            """);

        Assert.Equal(expected, request.GetProperty("tool_choice").GetRawText());
        Assert.Equal("""[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}]""", request.GetProperty("tools").GetRawText());
    }

    [Fact]
    public void AnthropicToChat_StreamStopSequencesMetadataAndSampling_AreCarriedAndAnthropicOnlyFieldsDropped()
    {
        var request = ToChat("""
            {"model":"claude","max_tokens":99,"messages":[{"role":"user","content":"x"}],"stream":true,"stop_sequences":["A","B"],
             "metadata":{"user_id":"u-1"},"temperature":0.2,"top_p":0.8,"top_k":40,"thinking":{"type":"enabled","budget_tokens":1024}}
            """, model: "gpt-4o");

        Assert.Equal("gpt-4o", request.GetProperty("model").GetString());
        Assert.Equal(99, request.GetProperty("max_tokens").GetInt32());
        Assert.True(request.GetProperty("stream").GetBoolean());
        Assert.True(request.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("""["A","B"]""", request.GetProperty("stop").GetRawText());
        Assert.Equal("u-1", request.GetProperty("user").GetString());
        Assert.Equal(0.2, request.GetProperty("temperature").GetDouble());
        Assert.Equal(0.8, request.GetProperty("top_p").GetDouble());
        Assert.False(request.TryGetProperty("top_k", out _));
        Assert.False(request.TryGetProperty("thinking", out _));
        Assert.False(request.TryGetProperty("metadata", out _));
    }

    [Fact]
    public void ChatToAnthropicToChat_RoundTrip_KeepsTheConversationAndTools()
    {
        const string Original = """
            {"model":"m","max_tokens":64,"messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":"Weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"18C"}],
             "tools":[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}],"tool_choice":"required","stop":["X"],"temperature":1}
            """;
        var anthropic = CrossFormat.TranslateRequest(Encoding.UTF8.GetBytes(Original), WireFormat.OpenAIChat, WireFormat.AnthropicMessages, null);
        var back = JsonDocument.Parse(CrossFormat.TranslateRequest(anthropic, WireFormat.AnthropicMessages, WireFormat.OpenAIChat, null)).RootElement;

        Assert.Equal("""
            [{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Weather?"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"18C"}]
            """, back.GetProperty("messages").GetRawText());
        Assert.Equal("""[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}]""", back.GetProperty("tools").GetRawText());
        Assert.Equal("\"required\"", back.GetProperty("tool_choice").GetRawText());
        Assert.Equal("""["X"]""", back.GetProperty("stop").GetRawText());
        Assert.Equal(64, back.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public void ResponsesToChat_StringInputAndInstructions_BecomeSystemAndUserMessages()
    {
        var request = Translate("""
            {"model":"gpt","instructions":"Be brief.","input":"Hi","max_output_tokens":77,"stream":true,"temperature":0.3,"store":true,"reasoning":{"effort":"low"}}
            """, WireFormat.OpenAIResponses, WireFormat.OpenAIChat);

        Assert.Equal("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]""", request.GetProperty("messages").GetRawText());
        Assert.Equal(77, request.GetProperty("max_tokens").GetInt32());
        Assert.True(request.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(0.3, request.GetProperty("temperature").GetDouble());
        Assert.False(request.TryGetProperty("store", out _));
        Assert.False(request.TryGetProperty("reasoning", out _));
    }

    [Fact]
    public void ResponsesToChat_Items_BecomeMessagesToolCallsAndToolResults()
    {
        var request = Translate("""
            {"model":"gpt","input":[
              {"role":"user","content":[{"type":"input_text","text":"Weather?"},{"type":"input_image","image_url":"https://example.com/a.png"}]},
              {"type":"reasoning","id":"rs_1","summary":[]},
              {"type":"function_call","id":"fc_1","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call","id":"fc_2","call_id":"call_2","name":"weather","arguments":"{\"city\":\"Rome\"}"},
              {"type":"function_call_output","call_id":"call_1","output":"18C"},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done."}]}],
             "tools":[{"type":"function","name":"weather","description":"d","parameters":{"type":"object"},"strict":true},{"type":"web_search"}],
             "tool_choice":{"type":"function","name":"weather"},
             "text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}}}
            """, WireFormat.OpenAIResponses, WireFormat.OpenAIChat);

        var messages = request.GetProperty("messages");
        Assert.Equal(4, messages.GetArrayLength());
        Assert.Equal("""{"role":"user","content":[{"type":"text","text":"Weather?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}""", messages[0].GetRawText());
        Assert.Equal(["call_1", "call_2"], messages[1].GetProperty("tool_calls").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.Equal("""{"role":"tool","tool_call_id":"call_1","content":"18C"}""", messages[2].GetRawText());
        Assert.Equal("""{"role":"assistant","content":"Done."}""", messages[3].GetRawText());
        Assert.Equal("""[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"},"strict":true}}]""", request.GetProperty("tools").GetRawText());
        Assert.Equal("""{"type":"function","function":{"name":"weather"}}""", request.GetProperty("tool_choice").GetRawText());
        Assert.Equal("""{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"},"strict":true}}""", request.GetProperty("response_format").GetRawText());
    }

    [Fact]
    public void ResponsesToAnthropic_InstructionsInputAndFunctionCalls_BecomeAMessagesRequest()
    {
        var request = Translate("""
            {"model":"gpt","instructions":"Be brief.","max_output_tokens":300,"input":[
              {"role":"user","content":"Weather?"},
              {"type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call_output","call_id":"call_1","output":"18C"}]}
            """, WireFormat.OpenAIResponses, WireFormat.AnthropicMessages, model: "claude-x");

        Assert.Equal("claude-x", request.GetProperty("model").GetString());
        Assert.Equal(300, request.GetProperty("max_tokens").GetInt32());
        Assert.Equal("Be brief.", request.GetProperty("system").GetString());
        var messages = request.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Equal("tool_use", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("""{"type":"tool_result","tool_use_id":"call_1","content":"18C"}""", messages[2].GetProperty("content")[0].GetRawText());
    }

    [Fact]
    public void ResponsesToChat_PreviousResponseId_IsRefused()
    {
        var error = Assert.Throws<GatewayFormatException>(() => Translate("""{"model":"m","input":"x","previous_response_id":"resp_1"}""",
            WireFormat.OpenAIResponses, WireFormat.OpenAIChat));
        Assert.Contains("previous_response_id", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"model\":")]
    public void TranslateRequest_BodyThatIsNotAJsonObject_ThrowsGatewayFormatException(string body)
        => Assert.Throws<GatewayFormatException>(() => ToAnthropic(body));

    [Fact]
    public void TranslateRequest_PairWithoutTranslation_ThrowsGatewayFormatException()
        => Assert.Throws<GatewayFormatException>(() => Translate("""{"input":"x"}""", WireFormat.OpenAIEmbeddings, WireFormat.AnthropicMessages));

    [Fact]
    public void RequestTranslation_ToUpstream_UsesTheCrossFormatTranslation()
    {
        var body = RequestTranslation.ToUpstream("""{"model":"a","messages":[{"role":"user","content":"x"}]}"""u8, WireFormat.OpenAIChat,
            WireFormat.AnthropicMessages, "claude");

        var request = JsonDocument.Parse(body).RootElement;
        Assert.Equal("claude", request.GetProperty("model").GetString());
        Assert.Equal(4096, request.GetProperty("max_tokens").GetInt32());
        Assert.True(RequestTranslation.CanTranslate(WireFormat.OpenAIResponses, WireFormat.AnthropicMessages));
    }
}
