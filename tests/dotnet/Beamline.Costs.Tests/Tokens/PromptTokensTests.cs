using System.Text.Json;
using Beamline.Costs.Tokens;
using Beamline.Pipeline;
using Microsoft.ML.Tokenizers;

namespace Beamline.Costs.Tests.Tokens;

public sealed class PromptTokensTests
{
    // The example of OpenAI's cookbook, "How to count tokens with tiktoken".
    private const string CookbookMessages = """
        [
          {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
          {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
          {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
          {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
          {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
          {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
        ]
        """;

    private readonly CostMeter _meter = new();

    // num_tokens_from_messages of the cookbook, word for word.
    private static long Cookbook(Tokenizer encoding, string messages)
    {
        long tokens = 0;
        using var document = JsonDocument.Parse(messages);
        foreach (var message in document.RootElement.EnumerateArray())
        {
            tokens += 3;
            foreach (var member in message.EnumerateObject())
            {
                tokens += encoding.CountTokens(member.Value.GetString()!);
                if (member.NameEquals("name"))
                {
                    tokens += 1;
                }
            }
        }
        return tokens + 3;
    }

    [Theory]
    [InlineData("gpt-4o", 124)]
    [InlineData("gpt-4", 129)]
    public void CountPromptTokens_CookbookMessages_CountsAsTheCookbookAndTheApi(string model, long api)
    {
        var request = Requests.Of(WireFormat.OpenAIChat, $$"""{"model":"{{model}}","messages":{{CookbookMessages}}}""");

        var counted = _meter.CountPromptTokens(request);

        Assert.Equal(Cookbook(Encodings.For(model), CookbookMessages), counted);
        Assert.Equal(api, counted); // the prompt tokens the API reported, as the cookbook prints them
        Assert.Equal(counted, request.PromptTokens);
    }

    [Fact]
    public void CountPromptTokens_AlreadyCounted_ReturnsTheCountKept()
    {
        var request = Requests.Of(WireFormat.OpenAIChat, """{"messages":[{"role":"user","content":"hello world"}]}""");
        request.PromptTokens = 42;

        Assert.Equal(42, _meter.CountPromptTokens(request));
    }

    [Fact]
    public void CountPromptTokens_ChatWithPartsToolCallsAndTools_CountsEveryText()
    {
        var o200k = Encodings.O200kBase;
        const string tools = """[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]""";
        var request = Requests.Of(WireFormat.OpenAIChat, $$$"""
            {"model":"gpt-4o","tools":{{{tools}}},"messages":[
              {"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"data:,"}}]},
              {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}
            ]}
            """);

        var expected = 3 + (3 + o200k.CountTokens("user") + 2 + PromptTokens.PerImage)
            + (3 + o200k.CountTokens("assistant") + o200k.CountTokens("get_weather") + o200k.CountTokens("{\"city\":\"Paris\"}"))
            + o200k.CountTokens(JsonDocument.Parse(tools).RootElement.GetRawText());
        Assert.Equal(expected, _meter.CountPromptTokens(request));
    }

    [Fact]
    public void CountPromptTokens_Anthropic_CountsSystemMessagesAndTools()
    {
        var o200k = Encodings.O200kBase;
        var request = Requests.Of(WireFormat.AnthropicMessages, """
            {"model":"claude-sonnet-4","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],
             "messages":[{"role":"user","content":"hello world"},{"role":"assistant","content":[{"type":"text","text":"Hi there"}]}]}
            """);

        var expected = o200k.CountTokens("Be brief.") + 3 + (3 + o200k.CountTokens("user") + 2) + (3 + o200k.CountTokens("assistant") + o200k.CountTokens("Hi there"));
        Assert.Equal(expected, _meter.CountPromptTokens(request));
    }

    [Fact]
    public void CountPromptTokens_Responses_CountsInstructionsAndInput()
    {
        var o200k = Encodings.O200kBase;
        var asString = Requests.Of(WireFormat.OpenAIResponses, """{"model":"gpt-4o","instructions":"Be brief.","input":"hello world"}""");
        var asItems = Requests.Of(WireFormat.OpenAIResponses, """{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text","text":"hello world"}]}]}""");

        Assert.Equal(o200k.CountTokens("Be brief.") + 3 + 3 + 2, _meter.CountPromptTokens(asString));
        Assert.Equal(3 + 3 + o200k.CountTokens("user") + 2, _meter.CountPromptTokens(asItems));
    }

    [Fact]
    public void CountPromptTokens_Embeddings_CountsStringsAndTokenIds()
    {
        Assert.Equal(2, _meter.CountPromptTokens(Requests.Of(WireFormat.OpenAIEmbeddings, """{"model":"text-embedding-3-small","input":"hello world"}""")));
        Assert.Equal(4, _meter.CountPromptTokens(Requests.Of(WireFormat.OpenAIEmbeddings, """{"input":["hello world","hello world"]}""")));
        Assert.Equal(3, _meter.CountPromptTokens(Requests.Of(WireFormat.OpenAIEmbeddings, """{"input":[[1,2,3]]}""")));
    }

    [Theory]
    [InlineData("""{"text":"hello world"}""", PayloadKind.Json, 2)]
    [InlineData("""{"prompt":"hello world","role":"user"}""", PayloadKind.Json, 2)]
    [InlineData("\"hello world\"", PayloadKind.Json, 2)]
    [InlineData("hello world", PayloadKind.Text, 2)]
    [InlineData("", PayloadKind.None, 0)]
    public void CountPromptTokens_Cp1_CountsItsText(string payload, PayloadKind kind, long expected)
    {
        Assert.Equal(expected, _meter.CountPromptTokens(Requests.Of(WireFormat.Cp1, payload, kind)));
    }

    [Fact]
    public void CountPromptTokens_Cp1Messages_CountsAsChat()
    {
        Assert.Equal(3 + 3 + Encodings.O200kBase.CountTokens("user") + 2,
            _meter.CountPromptTokens(Requests.Of(WireFormat.Cp1, """{"messages":[{"role":"user","content":"hello world"}]}""")));
    }

    [Theory]
    [InlineData(WireFormat.OpenAIChat, """{"messages":[{"role":"user","content":"hello world""")]
    [InlineData(WireFormat.AnthropicMessages, "not json at all")]
    [InlineData(WireFormat.Cp1, "{\"text\":")]
    public void CountPromptTokens_MalformedJson_CountsTheRawTextWithoutThrowing(WireFormat format, string payload)
    {
        Assert.Equal(Encodings.O200kBase.CountTokens(payload), _meter.CountPromptTokens(Requests.Of(format, payload)));
    }

    [Fact]
    public void CountPromptTokens_Cp1ObjectWithoutText_CountsTheWholePayload()
    {
        const string payload = """{"query":"hello world"}""";

        Assert.Equal(Encodings.O200kBase.CountTokens(payload), _meter.CountPromptTokens(Requests.Of(WireFormat.Cp1, payload)));
    }
}
