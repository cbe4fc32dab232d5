using System.Text.Json;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// CP2 over gRPC with a client that no one here wrote (@grpc/grpc-js, the .proto loaded by
/// @grpc/proto-loader) against a real <c>beamline serve</c>: decisions, streamed executes, and
/// errors as google.rpc.Status whose ErrorInfo carries the CP1 code.
/// </summary>
public sealed class RouterGrpcNodeTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>
{
    private static JsonObject Call(string method, JsonObject request, string? key = Cp2Fixture.Key, int deadlineMs = 0, bool compress = false) => new()
    {
        ["method"] = method,
        ["key"] = key,
        ["request"] = request,
        ["deadline_ms"] = deadlineMs,
        ["compress"] = compress,
    };

    private async Task<JsonElement> OneAsync(JsonObject call) => Assert.Single(await Cp2NodeClients.GrpcAsync(host.GrpcTarget, call));

    [Fact]
    public async Task Decide_WithTheTenantKey_AnswersTheDecisionWithItsFallbacks()
    {
        var reply = await OneAsync(Call("Decide", Cp2NodeClients.Request("grpc-js-decide-1", "echo")));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var decision = reply.GetProperty("response");
        Assert.Equal("m_echo", decision.GetProperty("provider_id").GetString());
        Assert.Equal("weighted", decision.GetProperty("reason").GetString());
        Assert.Equal("echo", decision.GetProperty("policy_id").GetString());
        Assert.Equal("grpc-js-decide-1", decision.GetProperty("request_id").GetString());
        Assert.True(decision.GetProperty("metadata").TryGetProperty("instance_id", out _));
        var fallback = Assert.Single(decision.GetProperty("fallbacks").EnumerateArray());
        Assert.Equal("m_backup", fallback.GetProperty("provider_id").GetString());
        Assert.Equal(["timeout", "5xx"], fallback.GetProperty("when").EnumerateArray().Select(w => w.GetString()));
        Assert.Equal(1, fallback.GetProperty("retry").GetInt32());
    }

    [Fact]
    public async Task Execute_Streamed_SendsTextChunksThenOneResult()
    {
        var reply = await OneAsync(Call("Execute", Cp2NodeClients.Request("grpc-js-stream-1", "echo", "stream me please", stream: true)));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var events = reply.GetProperty("events").EnumerateArray().ToArray();
        Assert.True(events.Length >= 3, reply.ToString()); // at least two chunks and the result
        var chunks = events[..^1].Select(e => e.GetProperty("chunk")).ToArray();
        Assert.Equal(Enumerable.Range(0, chunks.Length).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            chunks.Select(c => c.GetProperty("seq").GetString()));
        Assert.Equal("Echo: stream me please", string.Concat(chunks.Select(c => c.GetProperty("text").GetString())));
        var result = events[^1].GetProperty("result");
        Assert.Equal("ok", result.GetProperty("status").GetString());
        Assert.Equal("m_echo", result.GetProperty("provider_id").GetString());
        Assert.Equal("grpc-js-stream-1", result.GetProperty("request_id").GetString());
        Assert.True(long.Parse(result.GetProperty("usage").GetProperty("output_tokens").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("m_echo", Assert.Single(result.GetProperty("attempts").EnumerateArray()).GetProperty("provider_id").GetString());
    }

    [Fact]
    public async Task Execute_NotStreamed_SendsOneResultWithTheWholeAnswer()
    {
        var reply = await OneAsync(Call("Execute", Cp2NodeClients.Request("grpc-js-whole-1", "echo", "all at once")));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var result = Assert.Single(reply.GetProperty("events").EnumerateArray()).GetProperty("result");
        using var answer = JsonDocument.Parse(Convert.FromBase64String(result.GetProperty("output").GetString()!));
        Assert.Equal("Echo: all at once", answer.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("bl_cp2test_WRONGWRONGWRONGWRONGWRONGWRONGWRONGWRONGWRO")]
    [InlineData("not-a-key")]
    public async Task Decide_WithoutAValidKey_IsUnauthenticatedWithTheCp1Code(string? key)
    {
        var reply = await OneAsync(Call("Decide", Cp2NodeClients.Request("grpc-js-nokey"), key));

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.Equal("UNAUTHENTICATED", reply.GetProperty("status").GetString());
        Assert.Equal("unauthorized", reply.GetProperty("rich").GetProperty("reason").GetString());
        Assert.Equal("beamline.router", reply.GetProperty("rich").GetProperty("domain").GetString());
    }

    [Fact]
    public async Task Decide_WithoutMessageType_IsInvalidArgumentNamingTheField()
    {
        var request = Cp2NodeClients.Request("grpc-js-bad-1");
        request["message"]!["message_type"] = "";

        var reply = await OneAsync(Call("Decide", request));

        Assert.Equal("INVALID_ARGUMENT", reply.GetProperty("status").GetString());
        var rich = reply.GetProperty("rich");
        Assert.Equal("invalid_request", rich.GetProperty("reason").GetString());
        Assert.Equal("message.message_type", rich.GetProperty("metadata").GetProperty("field").GetString());
        Assert.Equal("required_field_missing", rich.GetProperty("metadata").GetProperty("type").GetString());
        var badRequest = rich.GetProperty("details").EnumerateArray().Single(d => d.GetProperty("type").GetString() == "google.rpc.BadRequest");
        Assert.Equal("message.message_type", badRequest.GetProperty("value").GetProperty("field_violations")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task Decide_UnknownPolicy_IsNotFoundWithPolicyNotFound()
    {
        var reply = await OneAsync(Call("Decide", Cp2NodeClients.Request("grpc-js-nopolicy", "no_such_policy")));

        Assert.Equal("NOT_FOUND", reply.GetProperty("status").GetString());
        Assert.Equal("policy_not_found", reply.GetProperty("rich").GetProperty("reason").GetString());
        Assert.Equal("policy_id", reply.GetProperty("rich").GetProperty("metadata").GetProperty("field").GetString());
    }

    [Fact]
    public async Task Execute_PastTheCallersDeadline_IsDeadlineExceeded()
    {
        // The provider answers after 20 s; the caller gives the call half a second.
        var reply = await OneAsync(Call("Execute", Cp2NodeClients.Request("grpc-js-deadline", "slow", stream: true), deadlineMs: 500));

        Assert.False(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("DEADLINE_EXCEEDED", reply.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Decide_GzipRequest_IsAnswered()
    {
        var reply = await OneAsync(Call("Decide", Cp2NodeClients.Request("grpc-js-gzip", "echo", new string('x', 4096)), compress: true));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("m_echo", reply.GetProperty("response").GetProperty("provider_id").GetString());
    }

    [Fact]
    public async Task Decide_OverTheKeysRequestsPerMinute_IsResourceExhaustedWithRetryInfo()
    {
        var calls = Enumerable.Range(0, 3).Select(i => Call("Decide", Cp2NodeClients.Request($"grpc-js-tight-{i}"), Cp2Fixture.TightKey)).ToArray();

        var replies = await Cp2NodeClients.GrpcAsync(host.GrpcTarget, calls);

        Assert.True(replies[0].GetProperty("ok").GetBoolean(), replies[0].ToString());
        Assert.True(replies[1].GetProperty("ok").GetBoolean(), replies[1].ToString());
        Assert.Equal("RESOURCE_EXHAUSTED", replies[2].GetProperty("status").GetString());
        var rich = replies[2].GetProperty("rich");
        Assert.Equal("quota_exceeded", rich.GetProperty("reason").GetString());
        Assert.Contains(rich.GetProperty("details").EnumerateArray(), d => d.GetProperty("type").GetString() == "google.rpc.RetryInfo");
    }
}
