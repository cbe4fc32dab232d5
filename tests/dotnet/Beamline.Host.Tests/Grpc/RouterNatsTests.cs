using System.Text.Json;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// CP2 over NATS (<c>beamline.router.v2.decide</c>, <c>beamline.router.v2.execute</c>) with a
/// client that no one here wrote: the official <c>nats</c> package, bodies encoded by protobufjs
/// from the .proto; the API key in the Authorization header, the kind of each reply in Beamline-Kind.
/// </summary>
public sealed class RouterNatsTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>
{
    private const string Decide = "beamline.router.v2.decide";
    private const string Execute = "beamline.router.v2.execute";

    private static JsonObject Call(string subject, JsonObject? request, string? key = Cp2Fixture.Key, int timeoutMs = 0) => new()
    {
        ["subject"] = subject,
        ["key"] = key,
        ["timeout_ms"] = timeoutMs,
        ["request"] = request,
    };

    private async Task<JsonElement[]> RepliesAsync(JsonObject call)
        => Assert.Single(await Cp2NodeClients.NatsAsync(host.Nats.Url, call)).EnumerateArray().ToArray();

    [Fact]
    public async Task Decide_WithTheKeyInAHeader_AnswersADecision()
    {
        var reply = Assert.Single(await RepliesAsync(Call(Decide, Cp2NodeClients.Request("nats-decide-1", "echo"))));

        Assert.Equal("decision", reply.GetProperty("kind").GetString());
        var decision = reply.GetProperty("decision");
        Assert.Equal("m_echo", decision.GetProperty("provider_id").GetString());
        Assert.Equal("nats-decide-1", decision.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Execute_Streamed_RepliesChunksThenTheResult()
    {
        var replies = await RepliesAsync(Call(Execute, Cp2NodeClients.Request("nats-stream-1", "echo", "over nats", stream: true)));

        Assert.True(replies.Length >= 3, string.Join('\n', replies));
        Assert.All(replies[..^1], r => Assert.Equal("chunk", r.GetProperty("kind").GetString()));
        Assert.Equal("Echo: over nats", string.Concat(replies[..^1].Select(r => r.GetProperty("event").GetProperty("chunk").GetProperty("text").GetString())));
        Assert.Equal("result", replies[^1].GetProperty("kind").GetString());
        Assert.Equal("ok", replies[^1].GetProperty("event").GetProperty("result").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Decide_PolicyWithAValidator_RepliesAfterItOrIsBlockedByIt()
    {
        var replies = await Cp2NodeClients.NatsAsync(host.Nats.Url,
            Call(Decide, Cp2NodeClients.Request("nats-guard-1", "guard", "nothing personal here")),
            Call(Decide, Cp2NodeClients.Request("nats-guard-2", "guard", "write to jane.doe@example.com please")));

        var clean = Assert.Single(replies[0].EnumerateArray());
        var blocked = Assert.Single(replies[1].EnumerateArray());
        Assert.Equal("m_echo", clean.GetProperty("decision").GetProperty("provider_id").GetString());
        Assert.Equal(7, blocked.GetProperty("error").GetProperty("code").GetInt32()); // PERMISSION_DENIED
        Assert.Equal("validator_blocked", blocked.GetProperty("error").GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("bl_cp2test_WRONGWRONGWRONGWRONGWRONGWRONGWRONGWRONGWRO")]
    public async Task Decide_WithoutAValidKey_RepliesUnauthenticated(string? key)
    {
        var reply = Assert.Single(await RepliesAsync(Call(Decide, Cp2NodeClients.Request("nats-nokey"), key)));

        Assert.Equal("error", reply.GetProperty("kind").GetString());
        Assert.Equal(16, reply.GetProperty("error").GetProperty("code").GetInt32()); // UNAUTHENTICATED
        Assert.Equal("unauthorized", reply.GetProperty("error").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Decide_BodyThatIsNoDecideRequest_RepliesInvalidArgument()
    {
        var call = Call(Decide, null);
        call["raw_base64"] = Convert.ToBase64String("{\"not\":\"protobuf\"}"u8.ToArray());

        var reply = Assert.Single(await RepliesAsync(call));

        Assert.Equal(3, reply.GetProperty("error").GetProperty("code").GetInt32()); // INVALID_ARGUMENT
        Assert.Equal("invalid_request", reply.GetProperty("error").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Execute_PastTheTimeoutHeader_RepliesDeadlineExceeded()
    {
        var reply = Assert.Single(await RepliesAsync(Call(Execute, Cp2NodeClients.Request("nats-deadline-1", "slow"), timeoutMs: 500)));

        Assert.Equal("error", reply.GetProperty("kind").GetString());
        Assert.Equal(4, reply.GetProperty("error").GetProperty("code").GetInt32()); // DEADLINE_EXCEEDED
        Assert.Equal("deadline_exceeded", reply.GetProperty("error").GetProperty("metadata").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Execute_UnknownPolicy_RepliesNotFound()
    {
        var reply = Assert.Single(await RepliesAsync(Call(Execute, Cp2NodeClients.Request("nats-nopolicy", "nope"))));

        Assert.Equal(5, reply.GetProperty("error").GetProperty("code").GetInt32()); // NOT_FOUND
        Assert.Equal("policy_not_found", reply.GetProperty("error").GetProperty("reason").GetString());
    }
}
