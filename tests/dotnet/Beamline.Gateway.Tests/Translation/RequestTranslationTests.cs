using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Beamline.Gateway.Translation;
using Beamline.Pipeline;
using Beamline.Routing.Catalog;

namespace Beamline.Gateway.Tests.Translation;

public sealed class RequestTranslationTests
{
    private static JsonElement ChatUpstream(string body, string? model = "upstream")
        => JsonDocument.Parse(RequestTranslation.ToUpstream(Encoding.UTF8.GetBytes(body), WireFormat.OpenAIChat, WireFormat.OpenAIChat, model)).RootElement;

    [Fact]
    public void ToUpstream_StreamedChat_AsksForTheUsage()
    {
        var body = ChatUpstream("""{"model":"m","stream":true,"messages":[]}""");

        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("upstream", body.GetProperty("model").GetString());
    }

    [Fact]
    public void ToUpstream_StreamedChatWithOtherStreamOptions_KeepsThem()
    {
        var body = ChatUpstream("""{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false},"messages":[]}""", model: null);

        var options = body.GetProperty("stream_options");
        Assert.True(options.GetProperty("include_usage").GetBoolean());
        Assert.False(options.GetProperty("include_obfuscation").GetBoolean());
        Assert.Equal(2, options.EnumerateObject().Count());
        Assert.Equal("m", body.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""")]
    [InlineData("""{"model":"m","stream":false,"messages":[]}""")]
    public void ToUpstream_ChatNotStreamed_AsksForNothingMore(string request)
    {
        Assert.False(ChatUpstream(request).TryGetProperty("stream_options", out _));
    }

    [Fact]
    public void ToUpstream_StreamedChatAlreadyAskingForUsage_IsSentAsItIs()
    {
        const string request = """{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}""";

        Assert.Equal(request, Encoding.UTF8.GetString(RequestTranslation.ToUpstream(Encoding.UTF8.GetBytes(request), WireFormat.OpenAIChat, WireFormat.OpenAIChat, null)));
    }

    [Theory]
    [InlineData(WireFormat.AnthropicMessages, """{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}""")]
    [InlineData(WireFormat.OpenAIResponses, """{"model":"m","stream":true,"input":"x"}""")]
    public void ToUpstream_StreamedRequestTranslatedToChat_AsksForTheUsage(WireFormat from, string request)
    {
        var body = JsonDocument.Parse(RequestTranslation.ToUpstream(Encoding.UTF8.GetBytes(request), from, WireFormat.OpenAIChat, "u")).RootElement;

        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Theory]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("my-route", "gpt-4o")]
    [InlineData(null, "gpt-4o")]
    public void UpstreamModel_AskedModelOfferedByName_ElseTheEntrysOwn(string? asked, string expected)
    {
        var provider = new ProviderDescriptor { Id = "p", Model = "gpt-4o", Models = ImmutableArray.Create("gpt-4o-mini") };

        Assert.Equal(expected, ModelRoutes.UpstreamModel(provider, asked));
        Assert.Null(ModelRoutes.UpstreamModel(new ProviderDescriptor { Id = "any" }, "llama"));
    }
}
