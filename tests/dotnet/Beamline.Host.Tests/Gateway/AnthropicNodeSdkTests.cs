using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// <c>POST /v1/messages</c> called by the official Anthropic TypeScript SDK (<c>@anthropic-ai/sdk</c>,
/// driven by <c>node/anthropic-sdk.mjs</c>): whole, streamed, and the SDK's error classes.
/// </summary>
public sealed class AnthropicNodeSdkTests(AnthropicGatewayFixture fixture) : IClassFixture<AnthropicGatewayFixture>
{
    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Host.Tests", "node");

    [Theory]
    [InlineData(AnthropicGatewayFixture.AnthropicModel)]
    [InlineData(AnthropicGatewayFixture.OpenAIModel)]
    public async Task Create_ReturnsTheMessage(string model)
    {
        var message = (await RunAsync(AnthropicGatewayFixture.TenantKey, model, "whole")).GetProperty("message");

        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal(model, message.GetProperty("model").GetString());
        Assert.Equal("Echo: Hello from node whole", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        Assert.Equal(7, message.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Theory]
    [InlineData(AnthropicGatewayFixture.AnthropicModel)]
    [InlineData(AnthropicGatewayFixture.OpenAIModel)]
    public async Task Stream_GivesTextEventsAndTheFinalMessage(string model)
    {
        var result = await RunAsync(AnthropicGatewayFixture.TenantKey, model, "stream");

        var deltas = result.GetProperty("deltas").EnumerateArray().Select(d => d.GetString()).ToList();
        Assert.True(deltas.Count >= 4, string.Join("|", deltas));
        Assert.Equal("Echo: Hello from node stream", string.Concat(deltas));
        var message = result.GetProperty("message");
        Assert.Equal("Echo: Hello from node stream", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        Assert.Equal(7, message.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task WrongKey_ThrowsAuthenticationError()
    {
        var error = await RunAsync("bl_nope_not-a-key", AnthropicGatewayFixture.AnthropicModel, "whole");

        Assert.Equal("AuthenticationError", error.GetProperty("error").GetString());
        Assert.Equal(401, error.GetProperty("status").GetInt32());
        Assert.True(error.GetProperty("authentication").GetBoolean());
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ModelThatNamesNothing_ThrowsNotFoundError()
    {
        var error = await RunAsync(AnthropicGatewayFixture.TenantBKey, "no-such-model", "whole");

        Assert.Equal("NotFoundError", error.GetProperty("error").GetString());
        Assert.Equal(404, error.GetProperty("status").GetInt32());
        Assert.True(error.GetProperty("notFound").GetBoolean());
        Assert.Equal("not_found_error", error.GetProperty("type").GetString());
    }

    private async Task<JsonElement> RunAsync(string key, string model, string mode)
    {
        var (exit, output, error) = await NodeScripts.RunNodeAsync(Folder, "@anthropic-ai/sdk", "anthropic-sdk.mjs", fixture.BaseUrl, key, model, mode);
        Assert.True(exit == 0, $"node anthropic-sdk.mjs failed ({exit}):\n{error}");
        return JsonDocument.Parse(output).RootElement;
    }


}
