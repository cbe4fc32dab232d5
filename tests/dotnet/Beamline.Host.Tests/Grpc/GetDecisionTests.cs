using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Cp2;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// CP2 <c>GetDecision</c> over gRPC (Grpc.Net.Client) and <c>beamline.router.v2.get_decision</c>
/// over NATS (the official nats package) against a real <c>beamline serve</c>: a stored decision is
/// answered as its decide was, to its own tenant only; another tenant's id is not found.
/// </summary>
public sealed class GetDecisionTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>, IDisposable
{
    private const string NatsDecide = "beamline.router.v2.decide";
    private const string NatsGetDecision = "beamline.router.v2.get_decision";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(host.Process.GrpcAddress);

    public void Dispose() => _channel.Dispose();

    private Router.RouterClient Client => new(_channel);

    private static Metadata Key(string key = Cp2Fixture.Key) => new() { { "authorization", "Bearer " + key } };

    private static JsonObject NatsCall(string subject, JsonObject request, string tenant = Cp2Fixture.Tenant) => new()
    {
        ["subject"] = subject,
        ["tenant"] = tenant,
        ["request"] = request,
    };

    private static JsonObject Lookup(string messageId) => new() { ["message_id"] = messageId };

    [Fact]
    public async Task OverGrpc_TheDecisionOfADecide_IsAnsweredAsItWas()
    {
        var request = new DecideRequest
        {
            Version = "2",
            Message = new Message { MessageId = "get-grpc-1", MessageType = "chat", PayloadText = "hello", TraceId = "trace-get-1" },
            PolicyId = "echo",
        };
        var decided = await Client.DecideAsync(request, Key(), DateTime.UtcNow + Wait);

        var stored = await Client.GetDecisionAsync(new GetDecisionRequest { MessageId = "get-grpc-1" }, Key(), DateTime.UtcNow + Wait);

        Assert.Equal(decided, stored);
        Assert.Equal("trace-get-1", stored.TraceId);
        Assert.Single(stored.Fallbacks);
    }

    [Fact]
    public async Task OverGrpc_ADecisionOfDecideStream_IsStoredToo()
    {
        using var call = Client.DecideStream(Key(), DateTime.UtcNow + Wait);
        await call.RequestStream.WriteAsync(new DecideRequest { Message = new Message { MessageId = "get-stream-1", MessageType = "chat" }, PolicyId = "echo" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        var decided = call.ResponseStream.Current.Decision;

        var stored = await Client.GetDecisionAsync(new GetDecisionRequest { MessageId = "get-stream-1" }, Key(), DateTime.UtcNow + Wait);

        Assert.Equal(decided, stored);
    }

    [Fact]
    public async Task OverGrpc_AnotherTenantsDecision_IsNotFound()
    {
        await Client.DecideAsync(new DecideRequest { Message = new Message { MessageId = "get-grpc-other", MessageType = "chat" } }, Key(), DateTime.UtcNow + Wait);

        // tenant_cp2_tight's key asks for tenant_cp2's decision id.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.GetDecisionAsync(new GetDecisionRequest { MessageId = "get-grpc-other" }, Key(Cp2Fixture.TightKey), DateTime.UtcNow + Wait));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        var info = error.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal("not_found", info.Reason);
        Assert.Equal("message_id", info.Metadata["field"]);
        Assert.Null(error.GetRpcStatus()!.GetDetail<DecideResponse>());
        Assert.DoesNotContain("m_echo", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverGrpc_WithoutMessageId_IsInvalidArgument_AndWithoutKey_Unauthenticated()
    {
        var invalid = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.GetDecisionAsync(new GetDecisionRequest(), Key(), DateTime.UtcNow + Wait));
        var noKey = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.GetDecisionAsync(new GetDecisionRequest { MessageId = "x" }, new Metadata(), DateTime.UtcNow + Wait));

        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        Assert.Equal("message_id", invalid.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["field"]);
        Assert.Equal(StatusCode.Unauthenticated, noKey.StatusCode);
    }

    [Fact]
    public async Task OverNats_TheTenantsOwnDecision_IsAnswered_AnotherTenantGetsNotFound()
    {
        var replies = await Cp2NodeClients.NatsAsync(host.Nats.Url,
            NatsCall(NatsDecide, Cp2NodeClients.Request("get-nats-1", "echo")),
            NatsCall(NatsGetDecision, Lookup("get-nats-1")),
            NatsCall(NatsGetDecision, Lookup("get-nats-1"), Cp2Fixture.TightBusTenant),
            NatsCall(NatsGetDecision, Lookup("get-nats-never")));

        var decided = Single(replies[0], "decision");
        var stored = Single(replies[1], "decision");
        Assert.Equal(decided.GetProperty("decision").ToString(), stored.GetProperty("decision").ToString());
        foreach (var notFound in new[] { Single(replies[2], "error"), Single(replies[3], "error") })
        {
            Assert.Equal(5, notFound.GetProperty("error").GetProperty("code").GetInt32()); // NOT_FOUND
            Assert.Equal("not_found", notFound.GetProperty("error").GetProperty("reason").GetString());
            Assert.DoesNotContain("m_echo", notFound.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OverNats_ADecisionMadeOverGrpc_IsAnsweredToTheSameTenant()
    {
        var decided = await Client.DecideAsync(new DecideRequest { Message = new Message { MessageId = "get-cross-1", MessageType = "chat" }, PolicyId = "echo" },
            Key(), DateTime.UtcNow + Wait);

        var replies = await Cp2NodeClients.NatsAsync(host.Nats.Url, NatsCall(NatsGetDecision, Lookup("get-cross-1")));

        var stored = Single(replies[0], "decision").GetProperty("decision");
        Assert.Equal(decided.ProviderId, stored.GetProperty("provider_id").GetString());
        Assert.Equal("get-cross-1", stored.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task OverNats_WithoutATenant_IsUnauthorized()
    {
        var call = NatsCall(NatsGetDecision, Lookup("get-nats-1"));
        call["tenant"] = null;

        var replies = await Cp2NodeClients.NatsAsync(host.Nats.Url, call);

        Assert.Equal("unauthorized", Single(replies[0], "error").GetProperty("error").GetProperty("reason").GetString());
    }

    private static JsonElement Single(JsonElement replies, string kind)
    {
        var reply = Assert.Single(replies.EnumerateArray());
        Assert.True(reply.GetProperty("kind").GetString() == kind, reply.ToString());
        return reply;
    }
}
