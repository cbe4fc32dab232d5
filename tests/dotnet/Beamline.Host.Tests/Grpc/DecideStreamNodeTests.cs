using System.Text.Json;
using System.Text.Json.Nodes;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// <c>Router.DecideStream</c> with @grpc/grpc-js (the .proto loaded by @grpc/proto-loader) against a
/// real <c>beamline serve</c>: many decides on one call, each answered once by message id, an error
/// for one request as that answer's google.rpc.Status while the stream goes on, the key checked once.
/// </summary>
public sealed class DecideStreamNodeTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>
{
    private static JsonObject Stream(IEnumerable<JsonObject> requests, string? key = Cp2Fixture.Key) => new()
    {
        ["method"] = "DecideStream",
        ["key"] = key,
        ["requests"] = new JsonArray([.. requests]),
    };

    private async Task<JsonElement> OneAsync(JsonObject call) => Assert.Single(await Cp2NodeClients.GrpcAsync(host.GrpcTarget, call));

    [Fact]
    public async Task ManyRequests_EachAnsweredOnce_AnInvalidOneWithInvalidRequestWhileTheOthersAreDecided()
    {
        // More than the stream's window, on a policy decided at once and on one with a validator (decided later).
        var requests = Enumerable.Range(0, 300).Select(i => Cp2NodeClients.Request($"js-stream-{i}", i % 3 == 0 ? "guard" : "echo")).ToArray();
        requests[150]["message"]!["message_type"] = "";

        var reply = await OneAsync(Stream(requests));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var answers = reply.GetProperty("answers").EnumerateArray().ToArray();
        Assert.Equal(300, answers.Length);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"js-stream-{i}").Order(), answers.Select(a => a.GetProperty("message_id").GetString()).Order());
        foreach (var answer in answers)
        {
            var id = answer.GetProperty("message_id").GetString()!;
            // The index is the request's position on the stream.
            Assert.Equal(id["js-stream-".Length..], answer.GetProperty("index").GetString());
            if (id == "js-stream-150")
            {
                Assert.Equal("error", answer.GetProperty("outcome").GetString());
                Assert.Equal(3, answer.GetProperty("error").GetProperty("code").GetInt32()); // INVALID_ARGUMENT
                var rich = answer.GetProperty("rich");
                Assert.Equal("invalid_request", rich.GetProperty("reason").GetString());
                Assert.Equal("message.message_type", rich.GetProperty("metadata").GetProperty("field").GetString());
                Assert.Contains(rich.GetProperty("details").EnumerateArray(), d => d.GetProperty("type").GetString() == "google.rpc.BadRequest");
                continue;
            }
            Assert.True(answer.GetProperty("outcome").GetString() == "decision", answer.ToString());
            Assert.Equal("m_echo", answer.GetProperty("decision").GetProperty("provider_id").GetString());
            Assert.Equal(id, answer.GetProperty("decision").GetProperty("request_id").GetString());
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("bl_cp2test_WRONGWRONGWRONGWRONGWRONGWRONGWRONGWRONGWRO")]
    public async Task WithoutAValidKey_TheStreamIsRefusedBeforeAnyAnswer(string? key)
    {
        var reply = await OneAsync(Stream([Cp2NodeClients.Request("js-stream-nokey")], key));

        Assert.False(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("UNAUTHENTICATED", reply.GetProperty("status").GetString());
        Assert.Equal("unauthorized", reply.GetProperty("rich").GetProperty("reason").GetString());
        Assert.Empty(reply.GetProperty("answers").EnumerateArray());
    }

    [Fact]
    public async Task OverTheKeysRequestsPerMinute_ThatRequestIsQuotaExceededAndTheStreamEndsOk()
    {
        // tenant_cp2_tight allows two requests a minute: quotas are charged per request, not per stream.
        var reply = await OneAsync(Stream(Enumerable.Range(0, 3).Select(i => Cp2NodeClients.Request($"js-stream-tight-{i}")), Cp2Fixture.TightKey));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var answers = reply.GetProperty("answers").EnumerateArray().ToArray();
        Assert.Equal(3, answers.Length);
        Assert.Equal(2, answers.Count(a => a.GetProperty("outcome").GetString() == "decision"));
        var refused = Assert.Single(answers, a => a.GetProperty("outcome").GetString() == "error");
        Assert.Equal(8, refused.GetProperty("error").GetProperty("code").GetInt32()); // RESOURCE_EXHAUSTED
        Assert.Equal("quota_exceeded", refused.GetProperty("rich").GetProperty("reason").GetString());
        Assert.Contains(refused.GetProperty("rich").GetProperty("details").EnumerateArray(), d => d.GetProperty("type").GetString() == "google.rpc.RetryInfo");
    }
}
