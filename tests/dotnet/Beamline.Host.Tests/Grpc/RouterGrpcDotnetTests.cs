using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Beamline.Cp2;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// CP2 over gRPC with the .NET gRPC client (Grpc.Net.Client) and plain HTTP/2 against a real
/// <c>beamline serve</c>: decisions, streamed executes, rich errors, deadlines, gzip, reflection,
/// and the same decision as CP1 for the same input.
/// </summary>
public sealed class RouterGrpcDotnetTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(host.Process.GrpcAddress);

    public void Dispose() => _channel.Dispose();

    private Router.RouterClient Client => new(_channel);

    private static Metadata Key(string key = Cp2Fixture.Key) => new() { { "authorization", "Bearer " + key } };

    private static DecideRequest Request(string id, string policy = "", string text = "hello", bool stream = false) => new()
    {
        Version = "2",
        Message = new Message { MessageId = id, MessageType = "chat", PayloadText = text },
        PolicyId = policy,
        Stream = new StreamOptions { Enabled = stream },
    };

    [Fact]
    public async Task Decide_DefaultPolicy_AnswersTheDecision()
    {
        var decision = await Client.DecideAsync(Request("dotnet-decide-1"), Key(), DateTime.UtcNow + Wait);

        Assert.Equal("m_echo", decision.ProviderId);
        Assert.Equal("echo", decision.PolicyId);
        Assert.Equal("dotnet-decide-1", decision.RequestId);
    }

    [Fact]
    public async Task Execute_Streamed_ChunksSpellTheAnswerAndTheResultComesLast()
    {
        using var call = Client.Execute(Request("dotnet-stream-1", "echo", "a streamed answer", stream: true), Key(), DateTime.UtcNow + Wait);
        var events = new List<ExecuteEvent>();
        await foreach (var item in call.ResponseStream.ReadAllAsync())
        {
            events.Add(item);
        }

        Assert.All(events[..^1], e => Assert.Equal(ExecuteEvent.EventOneofCase.Chunk, e.EventCase));
        Assert.Equal("Echo: a streamed answer", string.Concat(events[..^1].Select(e => e.Chunk.Text)));
        Assert.Contains("data:", Encoding.UTF8.GetString(events[0].Chunk.Data.Span), StringComparison.Ordinal); // the provider's own event, as sent
        var result = events[^1].Result;
        Assert.Equal("ok", result.Status);
        Assert.Equal("mock-echo", result.Model);
        Assert.True(result.Usage.OutputTokens > 0);
    }

    [Fact]
    public async Task Errors_CarryTheCp1CodeInErrorInfo()
    {
        var unauthenticated = await Assert.ThrowsAsync<RpcException>(() => Client.DecideAsync(Request("dotnet-err-1"), new Metadata(), DateTime.UtcNow + Wait).ResponseAsync);
        var invalid = await Assert.ThrowsAsync<RpcException>(() => Client.DecideAsync(new DecideRequest { Version = "3" }, Key(), DateTime.UtcNow + Wait).ResponseAsync);
        var notFound = await Assert.ThrowsAsync<RpcException>(() => Client.DecideAsync(Request("dotnet-err-3", "nope"), Key(), DateTime.UtcNow + Wait).ResponseAsync);

        Assert.Equal((StatusCode.Unauthenticated, "unauthorized", null), Describe(unauthenticated));
        Assert.Equal((StatusCode.InvalidArgument, "invalid_request", "version"), Describe(invalid));
        Assert.Equal((StatusCode.NotFound, "policy_not_found", "policy_id"), Describe(notFound));
    }

    [Fact]
    public async Task Decide_PolicyWithAValidator_AnswersAfterItOrIsBlockedByIt()
    {
        var clean = await Client.DecideAsync(Request("dotnet-guard-1", "guard", "nothing personal here"), Key(), DateTime.UtcNow + Wait);
        var blocked = await Assert.ThrowsAsync<RpcException>(() =>
            Client.DecideAsync(Request("dotnet-guard-2", "guard", "write to jane.doe@example.com please"), Key(), DateTime.UtcNow + Wait).ResponseAsync);

        Assert.Equal("m_echo", clean.ProviderId);
        Assert.Equal((StatusCode.PermissionDenied, "validator_blocked", null), Describe(blocked));
        Assert.Equal("pii_guard", blocked.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["validator"]);
    }

    [Fact]
    public async Task Execute_StreamPastTheDeadline_IsDeadlineExceeded()
    {
        using var call = Client.Execute(Request("dotnet-deadline-1", "slow", stream: true), Key(), DateTime.UtcNow.AddMilliseconds(500));

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task Execute_CancelledByTheCaller_EndsTheCall()
    {
        using var cancel = new CancellationTokenSource();
        using var call = Client.Execute(Request("dotnet-cancel-1", "slow"), Key(), DateTime.UtcNow + Wait, cancel.Token);
        await cancel.CancelAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        // The control plane still answers the next request (nothing was left holding a slot).
        Assert.Equal("m_echo", (await Client.DecideAsync(Request("dotnet-cancel-2"), Key(), DateTime.UtcNow + Wait)).ProviderId);
    }

    [Theory]
    [InlineData(4000, true)]
    [InlineData(0, false)]
    public async Task Execute_ClientAcceptsGzip_LargeAnswersAreGzippedSmallOnesNot(int textLength, bool gzipped)
    {
        // Plain HTTP/2 (h2c): the frames as the gRPC wire format defines them, to see the encoding.
        // The result of a non-streamed execute holds the whole answer (the echo of the text).
        using var http = new HttpClient();
        var message = Request($"raw-gzip-{textLength}", "echo", new string('z', textLength)).ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Process.GrpcAddress, "beamline.router.v2.Router/Execute"))
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-accept-encoding", "gzip");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Cp2Fixture.Key);

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.True(response.Headers.TryGetValues("grpc-encoding", out var encoding), $"{response}\n{response.TrailingHeaders}");
        Assert.Equal("gzip", Assert.Single(encoding)); // the call's encoding; each message says whether it used it
        Assert.Equal(gzipped ? 1 : 0, body[0]);
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
        Stream payload = new MemoryStream(body, 5, length);
        if (gzipped)
        {
            payload = new GZipStream(payload, CompressionMode.Decompress);
        }
        using (payload)
        {
            var result = ExecuteEvent.Parser.ParseFrom(payload).Result;
            Assert.Equal("ok", result.Status);
            Assert.Equal(gzipped, result.Output.Length >= Beamline.Host.Grpc.RouterGrpcService.CompressFromBytes);
        }
    }

    [Fact]
    public async Task Reflection_ListsTheRouterService()
    {
        using var call = new ServerReflection.ServerReflectionClient(_channel).ServerReflectionInfo(deadline: DateTime.UtcNow + Wait);
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "beamline.router.v2.Router" });
        await call.RequestStream.CompleteAsync();

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Contains("beamline.router.v2.Router", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.NotEmpty(call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto);
    }

    [Theory]
    [InlineData("echo")]
    [InlineData("cheapest")]
    public async Task Decide_SameInput_Cp1AndCp2DecideAlike(string policy)
    {
        // CP1 over HTTP with the same key, CP2 over gRPC and CP2 over NATS (nats.js).
        using var http = new HttpClient { BaseAddress = host.Process.BaseAddress, Timeout = Wait };
        using var cp1Request = new HttpRequestMessage(HttpMethod.Post, "api/v1/routes/decide")
        {
            Content = new StringContent($$"""
                {"version":"1","tenant_id":"{{Cp2Fixture.Tenant}}","request_id":"parity-cp1-{{policy}}","task":{"type":"chat","payload":"hello"},"policy_id":"{{policy}}"}
                """, Encoding.UTF8, "application/json"),
        };
        cp1Request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Cp2Fixture.Key);
        using var cp1Response = await http.SendAsync(cp1Request);
        using var cp1 = JsonDocument.Parse(await cp1Response.Content.ReadAsStringAsync());
        var grpc = await Client.DecideAsync(Request($"parity-grpc-{policy}", policy), Key(), DateTime.UtcNow + Wait);
        var nats = Assert.Single(Assert.Single(await Cp2NodeClients.NatsAsync(host.Nats.Url, new System.Text.Json.Nodes.JsonObject
        {
            ["subject"] = "beamline.router.v2.decide",
            ["key"] = Cp2Fixture.Key,
            ["request"] = Cp2NodeClients.Request($"parity-nats-{policy}", policy),
        })).EnumerateArray()).GetProperty("decision");

        var decision = cp1.RootElement.GetProperty("decision");
        var expected = (decision.GetProperty("provider_id").GetString(), decision.GetProperty("reason").GetString(), decision.GetProperty("priority").GetInt32(),
            decision.GetProperty("policy_id").GetString(), decision.GetProperty("metadata").GetProperty("algorithm").GetString());
        Assert.Equal(expected, (grpc.ProviderId, grpc.Reason, grpc.Priority, grpc.PolicyId, grpc.Metadata["algorithm"]));
        Assert.Equal(expected, (nats.GetProperty("provider_id").GetString(), nats.GetProperty("reason").GetString(), nats.GetProperty("priority").GetInt32(),
            nats.GetProperty("policy_id").GetString(), nats.GetProperty("metadata").GetProperty("algorithm").GetString()));
        Assert.Equal(decision.GetProperty("expected_cost").GetDouble(), grpc.ExpectedCostUsd);
    }

    private static (StatusCode, string, string?) Describe(RpcException error)
    {
        var info = error.GetRpcStatus()!.GetDetail<ErrorInfo>();
        return (error.StatusCode, info.Reason, info.Metadata.TryGetValue("field", out var field) ? field : null);
    }
}
