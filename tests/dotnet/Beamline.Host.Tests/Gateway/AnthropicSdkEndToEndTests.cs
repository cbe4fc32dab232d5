using System.Net;
using System.Text.Json;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// <c>POST /v1/messages</c> on a real control plane, called by the official Anthropic C# SDK:
/// served by the Anthropic-shaped mock as it is, and by the OpenAI-shaped mock translated.
/// </summary>
public sealed class AnthropicSdkEndToEndTests(AnthropicGatewayFixture fixture) : IClassFixture<AnthropicGatewayFixture>
{
    private AnthropicClient Client(string key = AnthropicGatewayFixture.TenantKey)
        => new() { ApiKey = key, BaseUrl = fixture.BaseUrl, MaxRetries = 0 };

    private static MessageCreateParams Ask(string model, string text) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam(text)],
    };

    [Theory]
    [InlineData(AnthropicGatewayFixture.AnthropicModel, "msg_mock_")]
    [InlineData(AnthropicGatewayFixture.OpenAIModel, "chatcmpl-mock-")]
    public async Task Create_ServedByEitherShape_ReturnsTheMessageInAnthropicsShape(string model, string upstreamIdPrefix)
    {
        var message = await Client().Messages.Create(Ask(model, "Hello from the C# SDK"));

        Assert.StartsWith(upstreamIdPrefix, message.ID, StringComparison.Ordinal);
        Assert.Equal(model, message.Model.Raw());
        var block = Assert.Single(message.Content);
        Assert.True(block.TryPickText(out var text));
        Assert.Equal("Echo: Hello from the C# SDK", text.Text);
        Assert.Equal("end_turn", message.StopReason?.Raw());
        Assert.Equal(6, message.Usage.InputTokens); // 21 characters at four a token
        Assert.Equal(7, message.Usage.OutputTokens);
    }

    [Theory]
    [InlineData(AnthropicGatewayFixture.AnthropicModel)]
    [InlineData(AnthropicGatewayFixture.OpenAIModel)]
    public async Task CreateStreaming_ServedByEitherShape_StreamsTextDeltasThenTheStopReasonAndUsage(string model)
    {
        var text = new System.Text.StringBuilder();
        var deltas = 0;
        string? id = null;
        string? stopReason = null;
        long? outputTokens = null;
        var stopped = false;
        await foreach (var item in Client().Messages.CreateStreaming(Ask(model, "stream these words please")))
        {
            if (item.TryPickStart(out var start))
            {
                id = start.Message.ID;
                Assert.Equal(model, start.Message.Model.Raw());
            }
            else if (item.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                text.Append(piece.Text);
                deltas++;
            }
            else if (item.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta.Delta.StopReason?.Raw();
                outputTokens = messageDelta.Usage.OutputTokens;
            }
            else if (item.TryPickStop(out _))
            {
                stopped = true;
            }
        }

        Assert.NotNull(id);
        Assert.Equal("Echo: stream these words please", text.ToString());
        Assert.True(deltas >= 5, $"{deltas} deltas: the mock streams word by word");
        Assert.Equal("end_turn", stopReason);
        Assert.Equal(8, outputTokens);
        Assert.True(stopped);
    }

    [Fact]
    public async Task Create_WithAWrongKey_ThrowsTheSdksUnauthorizedException()
    {
        var error = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => Client("bl_nope_not-a-key").Messages.Create(Ask(AnthropicGatewayFixture.AnthropicModel, "x")));

        Assert.Contains("not valid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ModelThatNamesNothingForATenantWithoutDefault_ThrowsTheSdksNotFoundException()
        => await Assert.ThrowsAsync<AnthropicNotFoundException>(() => Client(AnthropicGatewayFixture.TenantBKey).Messages.Create(Ask("no-such-model", "x")));

    [Theory]
    [InlineData("""{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("""{"model":"mock-claude","messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"model":"mock-claude","max_tokens":0,"messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"model":"mock-claude","max_tokens":10,"messages":[]}""", "messages")]
    [InlineData("""{"model":"mock-claude","max_tokens":10,"messages":[{"role":"user","content":"x"}],"stream":"yes"}""", "stream")]
    [InlineData("""[1]""", "JSON object")]
    public async Task Post_InvalidRequest_Returns400InAnthropicsErrorShape(string body, string named)
    {
        using var response = await fixture.PostAsync("v1/messages", body);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(named, error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_WithoutKey_Returns401InAnthropicsErrorShape()
    {
        using var response = await fixture.PostAsync("v1/messages", """{"model":"mock-claude","max_tokens":10,"messages":[{"role":"user","content":"x"}]}""", key: null);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authentication_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Post_WithBearerKeyAndNoAnthropicVersion_IsAccepted()
    {
        using var response = await fixture.PostAsync("v1/messages", """{"model":"mock-claude","max_tokens":10,"messages":[{"role":"user","content":"bearer"}]}""", bearer: true);
        var message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Echo: bearer", message.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task CountTokens_EstimatesAtFourCharactersAToken()
    {
        var count = await Client().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = AnthropicGatewayFixture.AnthropicModel,
            System = "Be brief.",
            Messages = [new UserMessageParam("Count these characters!")],
        });

        Assert.Equal((9 + 23 + 3) / 4, count.InputTokens);
    }
}
