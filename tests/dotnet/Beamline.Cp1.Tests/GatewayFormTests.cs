using System.Text;
using Beamline.Testing;

namespace Beamline.Cp1.Tests;

/// <summary>
/// The hybrid decide form of the upstream C gateway: top-level tenant_id, request_id, trace_id
/// and policy_id beside a message whose own fields may be missing.
/// </summary>
public sealed class GatewayFormTests
{
    [Fact]
    public void Parse_GatewayFullForm_TakesTheTopLevelTenantAndTheMessage()
    {
        var request = DecideCodec.Parse(GatewayFixtures.Read("decide_full.json")).Request!;

        Assert.Equal("tenant_abc123", request.TenantId);
        Assert.Equal("req-full-1", request.RequestId);
        Assert.Equal("msg-full-1", request.MessageId);
        Assert.Equal("trace-full-1", request.TraceId);
        Assert.Equal("default", request.PolicyId);
        Assert.Equal("chat", request.TaskType);
        Assert.Equal("""{"text":"hi"}""", Encoding.UTF8.GetString(request.Payload.Span));
        Assert.Equal("c-gateway", request.Metadata["source"]);
        Assert.Equal("u1", request.Context["user_id"]);
    }

    [Fact]
    public void Parse_EmptyMessage_DefaultsTypeToChatAndMessageIdToTheRequestId()
    {
        var request = DecideCodec.Parse(GatewayFixtures.Read("decide_message_empty.json")).Request!;

        Assert.Equal("tenant_abc123", request.TenantId);
        Assert.Equal("req-empty-1", request.MessageId);
        Assert.Equal("chat", request.TaskType);
        Assert.Equal(PayloadEncoding.None, request.PayloadEncoding);
        Assert.True(request.Payload.IsEmpty);
    }

    [Fact]
    public void Parse_EmptyMessageBesideATask_UsesTheTask()
    {
        var request = DecideCodec.Parse(GatewayFixtures.Read("decide_message_empty_with_task.json")).Request!;

        Assert.Equal("completion", request.TaskType);
        Assert.Equal("""{"prompt":"Once upon a time"}""", Encoding.UTF8.GetString(request.Payload.Span));
        Assert.Equal("req-task-1", request.RequestId);
    }

    [Fact]
    public void Parse_PartialMessage_FillsTheRestFromTheTopLevel()
    {
        var request = DecideCodec.Parse(GatewayFixtures.Read("decide_message_partial.json")).Request!;

        Assert.Equal("tenant_abc123", request.TenantId);
        Assert.Equal("req-partial-1", request.MessageId);
        Assert.Equal("chat", request.TaskType);
        Assert.Equal("""{"text":"only a payload"}""", Encoding.UTF8.GetString(request.Payload.Span));
    }

    [Fact]
    public void Parse_MessageTenantDisagreesWithTheTopLevel_IsInvalidRequestNamingTheField()
    {
        var result = DecideCodec.Parse(GatewayFixtures.Read("decide_message_tenant_mismatch.json"));

        Assert.Null(result.Request);
        Assert.Equal(Cp1ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Equal("message.tenant_id", result.Error.Field);
        Assert.Equal("req-mismatch-1", result.RequestId);
    }

    [Fact]
    public void Parse_MessageTenantAgreeingWithTheTopLevel_IsAccepted()
    {
        var result = DecideCodec.Parse(Encoding.UTF8.GetBytes("""
            {"tenant_id":"t1","request_id":"r1","message":{"tenant_id":"t1","message_id":"m1","message_type":"chat","payload":"x"}}
            """));

        Assert.Equal("t1", result.Request!.TenantId);
        Assert.Equal("m1", result.Request.MessageId);
    }

    [Fact]
    public void Parse_PureMessageForm_StillRequiresTheMessagesTenant()
    {
        var result = DecideCodec.Parse(Encoding.UTF8.GetBytes("""
            {"message":{"message_id":"m1","message_type":"chat","payload":"x"}}
            """));

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Equal("message.tenant_id", result.Error.Field);
    }

    [Fact]
    public void Parse_HybridWithoutRequestOrMessageId_IsInvalidRequestNamingRequestId()
    {
        var result = DecideCodec.Parse(Encoding.UTF8.GetBytes("""{"tenant_id":"t1","message":{}}"""));

        Assert.Equal(Cp1ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Equal("request_id", result.Error.Field);
    }
}
