using Beamline.Cp2;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Beamline.Host.Tests.Grpc;

/// <summary>
/// <c>Router.DecideStream</c> with the .NET gRPC client (Grpc.Net.Client) against a real
/// <c>beamline serve</c>: answers read while requests are still being written, per-request errors
/// and quotas, the key checked once, and the caller's deadline ending the stream.
/// </summary>
public sealed class DecideStreamDotnetTests(Cp2Fixture host) : IClassFixture<Cp2Fixture>, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(host.Process.GrpcAddress);

    public void Dispose() => _channel.Dispose();

    private Router.RouterClient Client => new(_channel);

    private static Metadata Key(string key = Cp2Fixture.Key) => new() { { "authorization", "Bearer " + key } };

    private static DecideRequest Request(string id, string policy = "echo") => new()
    {
        Version = "2",
        Message = new Message { MessageId = id, MessageType = "chat", PayloadText = "hello" },
        PolicyId = policy,
    };

    // Writes every request while a reader collects the answers; the answers once the server ends the stream.
    private static async Task<List<DecideStreamResponse>> RunAsync(AsyncDuplexStreamingCall<DecideRequest, DecideStreamResponse> call,
        IEnumerable<DecideRequest> requests)
    {
        var answers = new List<DecideStreamResponse>();
        var reading = Task.Run(async () =>
        {
            await foreach (var answer in call.ResponseStream.ReadAllAsync())
            {
                answers.Add(answer);
            }
        });
        foreach (var request in requests)
        {
            await call.RequestStream.WriteAsync(request);
        }
        await call.RequestStream.CompleteAsync();
        await reading;
        return answers;
    }

    [Fact]
    public async Task ManyRequests_EachAnsweredOnceByMessageId_AnInvalidOneWithItsErrorInfo()
    {
        var requests = Enumerable.Range(0, 1000).Select(i => Request($"net-stream-{i}", i % 10 == 0 ? "guard" : "echo")).ToList();
        requests[500].Message.MessageType = "";
        using var call = Client.DecideStream(Key(), DateTime.UtcNow + Wait);

        var answers = await RunAsync(call, requests);

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(1000, answers.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (ulong)i), answers.Select(a => a.Index).Order());
        foreach (var answer in answers)
        {
            Assert.Equal($"net-stream-{answer.Index}", answer.MessageId);
            if (answer.Index == 500)
            {
                Assert.Equal(DecideStreamResponse.OutcomeOneofCase.Error, answer.OutcomeCase);
                Assert.Equal((int)StatusCode.InvalidArgument, answer.Error.Code);
                var info = answer.Error.GetDetail<ErrorInfo>();
                Assert.Equal("invalid_request", info.Reason);
                Assert.Equal("beamline.router", info.Domain);
                Assert.Equal("message.message_type", info.Metadata["field"]);
                continue;
            }
            Assert.Equal(DecideStreamResponse.OutcomeOneofCase.Decision, answer.OutcomeCase);
            Assert.Equal("m_echo", answer.Decision.ProviderId);
            Assert.Equal(answer.MessageId, answer.Decision.RequestId);
        }
    }

    [Fact]
    public async Task ARequestWithoutMessage_IsAnsweredByItsIndex()
    {
        using var call = Client.DecideStream(Key(), DateTime.UtcNow + Wait);

        var answers = await RunAsync(call, [Request("net-stream-a"), new DecideRequest { Version = "2" }, Request("net-stream-b")]);

        var invalid = Assert.Single(answers, a => a.OutcomeCase == DecideStreamResponse.OutcomeOneofCase.Error);
        Assert.Equal(1UL, invalid.Index);
        Assert.Equal("", invalid.MessageId);
        Assert.Equal("message", invalid.Error.GetDetail<ErrorInfo>().Metadata["field"]);
        Assert.Equal(2, answers.Count(a => a.OutcomeCase == DecideStreamResponse.OutcomeOneofCase.Decision));
    }

    [Fact]
    public async Task WithAWrongKey_TheCallEndsUnauthenticated()
    {
        using var call = Client.DecideStream(Key("bl_cp2test_WRONGWRONGWRONGWRONGWRONGWRONGWRONGWRONGWRO"), DateTime.UtcNow + Wait);

        var error = await Assert.ThrowsAsync<RpcException>(() => RunAsync(call, [Request("net-stream-nokey")]));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal("unauthorized", error.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason);
    }

    [Fact]
    public async Task OverTheKeysRequestsPerMinute_OnlyThatRequestIsRefused()
    {
        using var call = Client.DecideStream(Key(Cp2Fixture.TightKey), DateTime.UtcNow + Wait);

        var answers = await RunAsync(call, Enumerable.Range(0, 3).Select(i => Request($"net-stream-tight-{i}")));

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(2, answers.Count(a => a.OutcomeCase == DecideStreamResponse.OutcomeOneofCase.Decision));
        var refused = Assert.Single(answers, a => a.OutcomeCase == DecideStreamResponse.OutcomeOneofCase.Error);
        Assert.Equal((int)StatusCode.ResourceExhausted, refused.Error.Code);
        Assert.Equal("quota_exceeded", refused.Error.GetDetail<ErrorInfo>().Reason);
    }

    [Fact]
    public async Task TheCallersDeadline_EndsAStreamLeftOpen()
    {
        using var call = Client.DecideStream(Key(), DateTime.UtcNow + TimeSpan.FromMilliseconds(500));
        await call.RequestStream.WriteAsync(Request("net-stream-open"));

        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("net-stream-open", call.ResponseStream.Current.MessageId);
        // The caller never closes its side: the deadline ends the call.
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }
}
