using System.Buffers;
using System.Text;
using System.Text.Json;
using Beamline.Host.Blocks;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Host.Tests.Blocks;

public sealed class BlockJsonTests
{
    private static ExecRequest Parse(string json) => BlockJson.ParseRequest(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Parse_StringPayload_IsBase64()
    {
        var request = Parse("""{"type":"echo","tenant_id":"t1","payload":"aGVsbG8=","deadline_ms":250}""");
        Assert.Equal("echo", request.Type);
        Assert.Equal("t1", request.TenantId);
        Assert.Equal("cpu", request.Pool);
        Assert.Equal("hello", request.Payload.ToStringUtf8());
        Assert.Equal(250u, request.DeadlineMs);
        Assert.Equal(32, request.BlockId.Length);
    }

    [Fact]
    public void Parse_JsonPayload_IsItsUtf8Text()
    {
        var request = Parse("""{"type":"echo","tenant_id":"t1","pool":"io","payload":{"a":[1,2,"é"]}}""");
        Assert.Equal("""{"a":[1,2,"é"]}""", request.Payload.ToStringUtf8());
        Assert.Equal("io", request.Pool);
    }

    [Theory]
    [InlineData("""{"tenant_id":"t1"}""", "type", "missing required field: type")]
    [InlineData("""{"type":"echo"}""", "tenant_id", "missing required field: tenant_id")]
    [InlineData("""{"type":"","tenant_id":"t1"}""", "type", "non-empty string")]
    [InlineData("""{"type":5,"tenant_id":"t1"}""", "type", "non-empty string")]
    [InlineData("""{"type":"echo","tenant_id":"t1","payload":"not base64!"}""", "payload", "base64")]
    [InlineData("""{"type":"echo","tenant_id":"t1","deadline_ms":-1}""", "deadline_ms", "whole number")]
    [InlineData("""{"type":"echo","tenant_id":"t1","deadline_ms":1.5}""", "deadline_ms", "whole number")]
    [InlineData("""{"type":"echo","tenant_id":"t1","pool":"a.b"}""", "pool", "'pool' must be")]
    [InlineData("""{"type":"echo","tenant_id":"t1","metadata":{"k":1}}""", "metadata.k", "must be a string")]
    [InlineData("""[1,2]""", "$", "JSON object")]
    [InlineData("""{"type":"echo",""", "$", "not valid JSON")]
    [InlineData("", "$", "not valid JSON")]
    public void Parse_BadRequest_NamesTheField(string json, string field, string message)
    {
        var error = Assert.Throws<BlockRequestException>(() => Parse(json));
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUtf8InPayloadOrField_IsABadRequest()
    {
        byte[] badPayload = [.. Encoding.UTF8.GetBytes("""{"type":"echo","tenant_id":"t","payload":{"x":" """), 0xA2, .. "\"}}"u8];
        Assert.Equal("payload", Assert.Throws<BlockRequestException>(() => BlockJson.ParseRequest(badPayload)).Field);

        byte[] badType = [.. "{\"type\":\"e"u8, 0xC3, .. "\",\"tenant_id\":\"t\"}"u8];
        Assert.Throws<BlockRequestException>(() => BlockJson.ParseRequest(badType));
    }

    [Fact]
    public void Parse_RandomBytes_NeverThrowsAnythingButBlockRequestException()
    {
        var random = new Random(42);
        var seed = Encoding.UTF8.GetBytes("""{"type":"echo","tenant_id":"t1","payload":{"x":"aGVsbG8="},"deadline_ms":10,"metadata":{"a":"b"}}""");
        for (var i = 0; i < 5000; i++)
        {
            var bytes = (byte[])seed.Clone();
            for (var m = random.Next(1, 6); m > 0; m--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            try
            {
                BlockJson.ParseRequest(bytes);
            }
            catch (BlockRequestException)
            {
            }
        }
    }

    [Fact]
    public void WriteResult_Success_HasOutputAsBase64AndWhereItRan()
    {
        var json = Write(new ExecResult
        {
            BlockId = "b1",
            Status = ExecStatus.Ok,
            Output = ByteString.CopyFromUtf8("hi"),
            LatencyUs = 7,
            WorkerId = "w1",
        }, "nats");
        var root = json.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        var result = root.GetProperty("result");
        Assert.Equal("aGk=", result.GetProperty("output").GetString());
        Assert.Equal("w1", result.GetProperty("worker_id").GetString());
        Assert.Equal("nats", result.GetProperty("mode").GetString());
        Assert.Equal("ok", result.GetProperty("status").GetString());
    }

    [Fact]
    public void WriteResult_Failure_UsesTheCp1ErrorShape()
    {
        var failed = new ExecResult
        {
            BlockId = "b2",
            Status = ExecStatus.Timeout,
            ErrorCode = "deadline_exceeded",
            ErrorMessage = "too slow",
        };
        var root = Write(failed, "in-process").RootElement;
        Assert.False(root.GetProperty("ok").GetBoolean());
        var error = root.GetProperty("error");
        Assert.Equal("deadline_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("too slow", error.GetProperty("message").GetString());
        Assert.Equal("b2", error.GetProperty("details").GetProperty("block_id").GetString());
        Assert.Equal("timeout", error.GetProperty("details").GetProperty("status").GetString());
        Assert.Equal(504, BlockJson.HttpStatusFor(failed));
    }

    [Theory]
    [InlineData("invalid_input", 400)]
    [InlineData("unknown_executor", 400)]
    [InlineData("no_responders", 503)]
    [InlineData("resource_unavailable", 503)]
    [InlineData("deadline_exceeded", 504)]
    [InlineData("result_too_large", 502)]
    [InlineData("worker_lost", 502)]
    [InlineData("cancelled", 499)]
    [InlineData("internal_error", 500)]
    public void HttpStatusFor_ErrorCodes(string code, int status)
    {
        Assert.Equal(status, BlockJson.HttpStatusFor(new ExecResult { Status = ExecStatus.Error, ErrorCode = code }));
    }

    private static JsonDocument Write(ExecResult result, string mode)
    {
        var buffer = new ArrayBufferWriter<byte>();
        BlockJson.WriteResult(buffer, result, mode);
        return JsonDocument.Parse(buffer.WrittenMemory);
    }
}
