using System.Text;
using System.Text.Json;
using Beamline.Pipeline.Extensions;

namespace Beamline.Pipeline.Tests.Extensions;

public sealed class ExtensionWireTests
{
    [Theory]
    [InlineData(PayloadKind.Json, """{"a":1}""", """{"a":1}""")]
    [InlineData(PayloadKind.Text, "say \"hi\"", "\"say \\u0022hi\\u0022\"")]
    [InlineData(PayloadKind.Binary, "AB", "\"QUI=\"")]
    [InlineData(PayloadKind.None, "", "null")]
    [InlineData(PayloadKind.Json, "", "null")]
    public void Write_Payload_IsRawJsonStringBase64OrNull(PayloadKind kind, string payload, string expected)
    {
        var json = Write(Input(payload, kind));

        using var document = JsonDocument.Parse(json);
        Assert.Equal(expected, document.RootElement.GetProperty("payload").GetRawText());
    }

    [Fact]
    public void Write_Request_HasTheCp1FieldsOnly_EvenWithConfig()
    {
        var input = new ExtensionInput
        {
            TenantId = "t",
            RequestId = "r",
            Payload = "{}"u8.ToArray(),
            PayloadKind = PayloadKind.Json,
            Metadata = new Dictionary<string, string> { ["k"] = "v" },
            Config = JsonDocument.Parse("""{"token":"secret"}""").RootElement.Clone(),
        };

        var json = Encoding.UTF8.GetString(ExtensionRequestWriter.ToArray(input));

        Assert.Equal("""{"tenant_id":"t","request_id":"r","payload":{},"metadata":{"k":"v"}}""", json);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("{} {}")]
    [InlineData("")]
    public void Read_NotAJsonObject_IsMalformed(string reply)
    {
        foreach (var type in Enum.GetValues<ExtensionType>())
        {
            Assert.Equal(ExtensionFailure.Malformed, Read(reply, type).Failure);
        }
    }

    [Fact]
    public void Read_PayloadAndMetadata()
    {
        var reply = Read("""{"payload":{"x":[1, 2]},"metadata":{"s":"v","n":5,"b":true,"o":{"a":1}}}""", ExtensionType.Pre);

        Assert.Equal(ExtensionFailure.None, reply.Failure);
        Assert.Equal("""{"x":[1, 2]}""", Encoding.UTF8.GetString(reply.Payload!.Value.Span));
        Assert.Equal(PayloadKind.Json, reply.PayloadKind);
        Assert.Equal("v", reply.Metadata!["s"]);
        Assert.Equal("5", reply.Metadata["n"]);
        Assert.Equal("true", reply.Metadata["b"]);
        Assert.Equal("""{"a":1}""", reply.Metadata["o"]);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"payload":null,"metadata":null}""")]
    public void Read_NothingToChange_IsUnchanged(string json)
    {
        var reply = Read(json, ExtensionType.Post);

        Assert.Equal(ExtensionFailure.None, reply.Failure);
        Assert.Null(reply.Payload);
        Assert.Null(reply.Metadata);
    }

    [Fact]
    public void Read_UpstreamPostForm_MessagePayloadAndContext()
    {
        var reply = Read("""{"message":{"message_id":"m","payload":"done"},"context":{"c":"1"}}""", ExtensionType.Post, PayloadKind.Text);

        Assert.Equal("done", Encoding.UTF8.GetString(reply.Payload!.Value.Span));
        Assert.Equal(PayloadKind.Text, reply.PayloadKind);
        Assert.Equal("1", reply.Metadata!["c"]);
    }

    [Fact]
    public void Read_TopLevelPayloadWinsOverMessagePayload()
    {
        var reply = Read("""{"payload":{"top":1},"message":{"payload":{"inner":1}}}""", ExtensionType.Post);

        Assert.Equal("""{"top":1}""", Encoding.UTF8.GetString(reply.Payload!.Value.Span));
    }

    [Theory]
    [InlineData("""{"metadata":[1]}""")]
    [InlineData("""{"message":"x"}""")]
    public void Read_WrongShape_IsMalformed(string json) => Assert.Equal(ExtensionFailure.Malformed, Read(json, ExtensionType.Pre).Failure);

    [Theory]
    [InlineData("""{"error":"boom"}""", "boom")]
    [InlineData("""{"error":{"code":"x","message":"went wrong"}}""", "went wrong")]
    [InlineData("""{"status":"error","reason":"down"}""", "down")]
    public void Read_ErrorReply_IsError(string json, string message)
    {
        foreach (var type in new[] { ExtensionType.Pre, ExtensionType.Validator, ExtensionType.Post })
        {
            var reply = Read(json, type);
            Assert.Equal(ExtensionFailure.Error, reply.Failure);
            Assert.Contains(message, reply.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("""{"status":"ok"}""", false)]
    [InlineData("{}", false)]
    [InlineData("""{"status":null}""", false)]
    [InlineData("""{"status":"reject"}""", true)]
    public void Read_ValidatorStatus(string json, bool rejected)
    {
        var reply = Read(json, ExtensionType.Validator);

        Assert.Equal(ExtensionFailure.None, reply.Failure);
        Assert.Equal(rejected, reply.Rejected);
    }

    [Fact]
    public void Read_ValidatorReject_ReasonAndDetails()
    {
        var reply = Read("""{"status":"reject","reason":"pii","details":{"n":2}}""", ExtensionType.Validator);

        Assert.True(reply.Rejected);
        Assert.Equal("pii", reply.Reason);
        Assert.Equal(2, reply.Details!.Value.GetProperty("n").GetInt32());
    }

    [Theory]
    [InlineData("""{"status":"maybe"}""")]
    [InlineData("""{"status":1}""")]
    public void Read_ValidatorUnknownStatus_IsMalformed(string json) =>
        Assert.Equal(ExtensionFailure.Malformed, Read(json, ExtensionType.Validator).Failure);

    [Fact]
    public void Read_BinaryInput_Base64Payload()
    {
        Assert.Equal(new byte[] { 1, 2 }, Read("""{"payload":"AQI="}""", ExtensionType.Pre, PayloadKind.Binary).Payload!.Value.ToArray());
        Assert.Equal(ExtensionFailure.Malformed, Read("""{"payload":"*not base64*"}""", ExtensionType.Pre, PayloadKind.Binary).Failure);
    }

    [Fact]
    public void Read_JsonInput_StringPayloadStaysJson()
    {
        var reply = Read("""{"payload":"text"}""", ExtensionType.Pre, PayloadKind.Json);

        Assert.Equal(PayloadKind.Json, reply.PayloadKind);
        Assert.Equal("\"text\"", Encoding.UTF8.GetString(reply.Payload!.Value.Span));
    }

    private static ExtensionReply Read(string json, ExtensionType type, PayloadKind input = PayloadKind.Json) =>
        ExtensionReplyReader.Read(Encoding.UTF8.GetBytes(json), type, input);

    private static string Write(ExtensionInput input) => Encoding.UTF8.GetString(ExtensionRequestWriter.ToArray(input));

    private static ExtensionInput Input(string payload, PayloadKind kind) => new()
    {
        TenantId = "t",
        RequestId = "r",
        Payload = Encoding.UTF8.GetBytes(payload),
        PayloadKind = kind,
        Metadata = new Dictionary<string, string>(),
    };
}
