using System.Text.Json;
using System.Text.Json.Nodes;
using static Beamline.Host.Tests.Gateway.OpenAINodeClient;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// The official <c>openai</c> npm package pointed at a real <c>beamline serve</c> (retries off): a
/// whole and a streamed chat, the models list, and each error status as the error class the SDK
/// throws for it, read from the script's JSON output.
/// </summary>
public sealed class OpenAINodeSdkTests(OpenAIGatewayFixture gateway) : IClassFixture<OpenAIGatewayFixture>
{
    private const string Key = OpenAIGatewayFixture.Key;

    [Fact]
    public async Task ChatAndStream_DefaultPolicy_TheMockReplyWholeAndAsChunksWithUsage()
    {
        var results = await RunAsync(gateway.OpenAIBaseUrl, Call("chat", Key, "gpt-4o-mini"), Call("stream", Key, "chat"), Call("chat", Key, "ok"));

        Assert.All(results, r => Assert.True(r.GetProperty("ok").GetBoolean(), r.ToString()));
        Assert.Equal(OpenAIGatewayFixture.MockReply, results[0].GetProperty("text").GetString());
        Assert.True(results[0].GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.Equal(OpenAIGatewayFixture.MockReply, results[1].GetProperty("text").GetString());
        Assert.True(results[1].GetProperty("chunks").GetInt32() > OpenAIGatewayFixture.MockReply.Split(' ').Length);
        Assert.True(results[1].GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        Assert.Equal(GatewayUpstream.Reply, results[2].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Models_ListsPoliciesAndProviderModels()
    {
        var result = (await RunAsync(gateway.OpenAIBaseUrl, Call("models", Key)))[0];

        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        var ids = result.GetProperty("ids").EnumerateArray().Select(i => i.GetString()).ToList();
        Assert.Contains("chat", ids);
        Assert.Contains("mock-chat-1", ids);
    }

    [Fact]
    public async Task Errors_EachStatusIsTheSdksErrorClass()
    {
        var empty = Call("chat", Key, "chat");
        empty["messages"] = new JsonArray();
        var results = await RunAsync(gateway.OpenAIBaseUrl,
            Call("chat", "bl_acme_VOkqYqQn99JXa8xMK5MkLNqqhTGnlrkaU0sujeiKuyB", "chat"),
            empty,
            Call("chat", OpenAIGatewayFixture.OrphanKey, "gpt-4o"),
            Call("chat", Key, "guarded", "my mail is jane.doe@example.com"),
            Call("chat", OpenAIGatewayFixture.LimitedKey, "chat"),
            Call("chat", OpenAIGatewayFixture.LimitedKey, "chat"),
            Call("chat", Key, "limited-alone"),
            Call("chat", Key, "down"),
            Call("chat", Key, "stall-alone"),
            Call("models", "sk-nobody"));

        AssertError(results[0], "AuthenticationError", 401, "authentication_error");
        AssertError(results[1], "BadRequestError", 400, "invalid_request_error");
        AssertError(results[2], "NotFoundError", 404, "invalid_request_error");
        Assert.Equal("model_not_found", results[2].GetProperty("code").GetString());
        AssertError(results[3], "PermissionDeniedError", 403, "permission_error");
        Assert.Equal("validator_blocked", results[3].GetProperty("code").GetString());
        Assert.True(results[4].GetProperty("ok").GetBoolean(), results[4].ToString());
        AssertError(results[5], "RateLimitError", 429, "rate_limit_error");
        Assert.InRange(int.Parse(results[5].GetProperty("retryAfter").GetString()!, System.Globalization.CultureInfo.InvariantCulture), 1, 61);
        AssertError(results[6], "RateLimitError", 429, "rate_limit_error");
        Assert.Equal("7", results[6].GetProperty("retryAfter").GetString());
        AssertError(results[7], "InternalServerError", 503, "service_unavailable");
        AssertError(results[8], "InternalServerError", 504, "timeout");
        AssertError(results[9], "AuthenticationError", 401, "authentication_error");
    }

    [Fact]
    public async Task Stream_UpstreamResetsMidStream_TheSdkThrowsAnApiErrorAfterThePartialText()
    {
        var reset = Call("stream", Key, "reset-stream");
        // The script tells the upstream when it has the first text; only then does the upstream reset.
        reset["releaseUrl"] = gateway.Upstream.ReleaseUrl("reset-stream");
        var results = await RunAsync(gateway.OpenAIBaseUrl, Call("stream", Key, "ok"), reset);

        Assert.True(results[0].GetProperty("ok").GetBoolean(), results[0].ToString());
        Assert.Equal(GatewayUpstream.Reply, results[0].GetProperty("text").GetString());
        Assert.False(results[1].GetProperty("ok").GetBoolean(), results[1].ToString());
        Assert.Equal("partial ", results[1].GetProperty("text").GetString());
        // An error event in the stream: the SDK's base APIError, without a status (the 200 was sent).
        Assert.Equal("APIError", results[1].GetProperty("class").GetString());
        Assert.True(results[1].GetProperty("isApiError").GetBoolean());
    }

    private static void AssertError(JsonElement result, string errorClass, int status, string type)
    {
        Assert.False(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.Equal(errorClass, result.GetProperty("class").GetString());
        Assert.True(result.GetProperty("isApiError").GetBoolean());
        Assert.Equal(status, result.GetProperty("status").GetInt32());
        Assert.Equal(type, result.GetProperty("type").GetString());
    }
}
