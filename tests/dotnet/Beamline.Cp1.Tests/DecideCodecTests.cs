using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Testing;

namespace Beamline.Cp1.Tests;

public sealed class DecideCodecTests
{
    private static readonly byte[] TaskForm = Cp1Fixtures.Request("decide_request_task_form.json");

    private static DecideParseResult Parse(string json) => DecideCodec.Parse(Encoding.UTF8.GetBytes(json));

    private static string Without(string path)
    {
        var node = JsonNode.Parse(TaskForm)!.AsObject();
        var parts = path.Split('.');
        var parent = node;
        foreach (var part in parts[..^1])
        {
            parent = parent[part]!.AsObject();
        }
        parent.Remove(parts[^1]);
        return node.ToJsonString();
    }

    private static string With(string path, JsonNode? value)
    {
        var node = JsonNode.Parse(TaskForm)!.AsObject();
        var parts = path.Split('.');
        var parent = node;
        foreach (var part in parts[..^1])
        {
            parent = parent[part]!.AsObject();
        }
        parent[parts[^1]] = value;
        return node.ToJsonString();
    }

    [Fact]
    public void Parse_TaskFormFixture_ReadsEveryField()
    {
        var result = DecideCodec.Parse(TaskForm);
        Assert.True(result.IsOk, result.Error?.Message);
        var r = result.Request!;
        Assert.Equal(DecideRequestForm.Task, r.Form);
        Assert.Equal(("tenant_abc123", "7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71", "trace_abc123"), (r.TenantId, r.RequestId, r.TraceId));
        Assert.Equal("chat", r.TaskType);
        Assert.Equal(PayloadEncoding.Json, r.PayloadEncoding);
        Assert.Equal("user", JsonDocument.Parse(r.Payload).RootElement.GetProperty("role").GetString());
        Assert.Equal("default", r.PolicyId);
        Assert.Equal((0.02, 1500.0), (r.MaxCost!.Value, r.MaxLatencyMs!.Value));
        Assert.Equal("gateway", r.Metadata["source"]);
        Assert.Equal(("user_123", "session_456"), (r.UserId, r.SessionId));
        Assert.False(r.PushAssignment);
        Assert.Equal("caf.exec.assign.v1", r.AssignmentSubject);
        var route = r.ToRouteRequest();
        Assert.Equal(("tenant_abc123", "default", "user_123"), (route.TenantId, route.PolicyId, route.GetContextValue("user_id")));
    }

    [Fact]
    public void Parse_ObjectPayload_KeepsItsBytesAndRefusesInvalidUtf8Inside()
    {
        var good = Encoding.UTF8.GetBytes("""{"version":"1","tenant_id":"t","request_id":"r","task":{"type":"chat","payload":{"text":"h\u00e9llo é","n":[1,2.50]}}}""");
        var result = DecideCodec.Parse(good);
        Assert.True(result.IsOk, result.Error?.Message);
        Assert.Equal("""{"text":"h\u00e9llo é","n":[1,2.50]}""", Encoding.UTF8.GetString(result.Request!.Payload.Span));

        // 0xC3 0x28 is not UTF-8: the raw payload must not pass through unchecked.
        var bad = Encoding.UTF8.GetBytes("""{"version":"1","tenant_id":"t","request_id":"r","task":{"type":"chat","payload":{"text":"X"}}}""");
        bad[Array.IndexOf(bad, (byte)'X')] = 0xC3;
        var refused = DecideCodec.Parse([.. bad.AsSpan(0, Array.IndexOf(bad, (byte)0xC3) + 1), 0x28, .. bad.AsSpan(Array.IndexOf(bad, (byte)0xC3) + 1)]);
        Assert.False(refused.IsOk);
        Assert.Equal(Cp1ErrorCodes.InvalidRequest, refused.Error!.Code);
        Assert.Equal("r", refused.RequestId);
    }

    [Fact]
    public void Parse_MessageFormFixture_ReadsThePayloadString()
    {
        var result = DecideCodec.Parse(Cp1Fixtures.Request("route_request_message_form.json"));
        Assert.True(result.IsOk, result.Error?.Message);
        var r = result.Request!;
        Assert.Equal(DecideRequestForm.Message, r.Form);
        Assert.Equal(("tenant_abc123", "msg_1234567890", "msg_1234567890", "trace_abc123"), (r.TenantId, r.RequestId, r.MessageId, r.TraceId));
        Assert.Equal("chat", r.TaskType);
        Assert.Equal(PayloadEncoding.JsonString, r.PayloadEncoding);
        Assert.Equal("{\"text\": \"Hello, world!\"}", Encoding.UTF8.GetString(r.Payload.Span));
        Assert.Equal(1704067200000, r.TimestampMs);
        Assert.Equal(("gateway", "1.0"), (r.Metadata["source"], r.Metadata["version"]));
        Assert.Equal("session_456", r.SessionId);
    }

    // Words of four, eight... letters are valid base64 too: a string payload is text unless the
    // request says otherwise.
    [Theory]
    [InlineData("test")]
    [InlineData("ping")]
    [InlineData("continue")]
    [InlineData("AAEC/w==")]
    public void Parse_StringPayload_StaysText(string text)
    {
        var r = Parse(With("task.payload", text)).Request!;
        Assert.Equal(PayloadEncoding.Text, r.PayloadEncoding);
        Assert.Equal(text, Encoding.UTF8.GetString(r.Payload.Span));
    }

    [Fact]
    public void Parse_PayloadBase64Field_IsDecoded()
    {
        var json = JsonNode.Parse(Without("task.payload"))!.AsObject();
        json["task"]!["payload_base64"] = "AAEC/w==";
        var r = Parse(json.ToJsonString()).Request!;
        Assert.Equal(PayloadEncoding.Base64, r.PayloadEncoding);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, r.Payload.ToArray());
    }

    [Fact]
    public void Parse_DeclaredBase64Encoding_IsDecoded()
    {
        var json = JsonNode.Parse(With("task.payload", "dGVzdA=="))!.AsObject();
        json["task"]!["payload_encoding"] = "base64";
        var r = Parse(json.ToJsonString()).Request!;
        Assert.Equal(PayloadEncoding.Base64, r.PayloadEncoding);
        Assert.Equal("test", Encoding.UTF8.GetString(r.Payload.Span));
    }

    [Fact]
    public void Parse_MessageFormPayloadBase64_IsDecoded()
    {
        var json = JsonNode.Parse(Cp1Fixtures.Request("route_request_message_form.json"))!.AsObject();
        json["message"]!.AsObject().Remove("payload");
        json["message"]!["payload_base64"] = "AAEC/w==";
        var r = Parse(json.ToJsonString()).Request!;
        Assert.Equal(PayloadEncoding.Base64, r.PayloadEncoding);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, r.Payload.ToArray());
    }

    [Theory]
    [InlineData("""{"payload_base64":"not base64!"}""", "task.payload_base64")]
    [InlineData("""{"payload_base64":5}""", "task.payload_base64")]
    [InlineData("""{"payload":"x","payload_base64":"AAEC"}""", "task.payload_base64")]
    [InlineData("""{"payload":"ab$c","payload_encoding":"base64"}""", "task.payload")]
    [InlineData("""{"payload":{"a":1},"payload_encoding":"base64"}""", "task.payload")]
    [InlineData("""{"payload":"x","payload_encoding":"rot13"}""", "task.payload_encoding")]
    public void Parse_BadBase64Payload_IsInvalidRequestNamingTheField(string task, string field)
    {
        var json = JsonNode.Parse(Without("task.payload"))!.AsObject();
        foreach (var member in JsonNode.Parse(task)!.AsObject())
        {
            json["task"]![member.Key] = member.Value?.DeepClone();
        }
        var result = Parse(json.ToJsonString());
        Assert.False(result.IsOk);
        Assert.Equal((Cp1ErrorCodes.InvalidRequest, field), (result.Error!.Code, result.Error.Field));
    }

    [Fact]
    public void Parse_PushAssignment_IsExposed()
    {
        var json = JsonNode.Parse(TaskForm)!.AsObject();
        json["push_assignment"] = true;
        json["assignment_subject"] = "caf.exec.assign.v1.gpu";
        var r = Parse(json.ToJsonString()).Request!;
        Assert.True(r.PushAssignment);
        Assert.Equal("caf.exec.assign.v1.gpu", r.AssignmentSubject);
    }

    [Fact]
    public void Parse_MissingTenant_MatchesTheErrorFixtureExactly()
    {
        var result = Parse(Without("tenant_id").Replace(",\"trace_id\":\"trace_abc123\"", string.Empty, StringComparison.Ordinal));
        var written = DecideCodec.ToBytes(w => DecideCodec.WriteError(w, result));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Cp1Fixtures.Request("decide_response_error.json")), JsonNode.Parse(written)),
            Encoding.UTF8.GetString(written));
        Assert.Equal(400, result.Error!.HttpStatus);
    }

    [Theory]
    [InlineData("version", "version")]
    [InlineData("tenant_id", "tenant_id")]
    [InlineData("request_id", "request_id")]
    [InlineData("task", "task")]
    [InlineData("task.type", "task.type")]
    [InlineData("task.payload", "task.payload")]
    public void Parse_MissingRequiredField_NamesIt(string path, string field)
    {
        var error = Parse(Without(path)).Error!;
        Assert.Equal((Cp1ErrorCodes.InvalidRequest, field, Cp1ErrorTypes.RequiredFieldMissing), (error.Code, error.Field, error.Type));
        Assert.Equal($"missing required field: {field}", error.Message);
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsTheFirstInValidationOrder()
    {
        var json = JsonNode.Parse(TaskForm)!.AsObject();
        json.Remove("tenant_id");
        json["version"] = "2";
        json["task"]!["type"] = "dance";
        Assert.Equal("version", Parse(json.ToJsonString()).Error!.Field);
        json["version"] = "1";
        Assert.Equal("tenant_id", Parse(json.ToJsonString()).Error!.Field);
        json["tenant_id"] = "t";
        var error = Parse(json.ToJsonString()).Error!;
        Assert.Equal(("task.type", Cp1ErrorTypes.InvalidValue), (error.Field, error.Type));
    }

    [Theory]
    [InlineData("tenant_id", "42", Cp1ErrorTypes.InvalidType)]
    [InlineData("constraints.max_cost", "\"cheap\"", Cp1ErrorTypes.InvalidType)]
    [InlineData("constraints.max_latency_ms", "-1", Cp1ErrorTypes.InvalidValue)]
    [InlineData("context", "[]", Cp1ErrorTypes.InvalidType)]
    [InlineData("push_assignment", "\"yes\"", Cp1ErrorTypes.InvalidType)]
    [InlineData("assignment_subject", "\"caf.exec.*\"", Cp1ErrorTypes.InvalidValue)]
    [InlineData("policy_id", "\"\"", Cp1ErrorTypes.InvalidValue)]
    [InlineData("task.payload", "\"{not json\"", Cp1ErrorTypes.InvalidValue)]
    public void Parse_BadFieldValue_NamesTheField(string path, string value, string type)
    {
        var result = Parse(With(path, JsonNode.Parse(value)));
        Assert.False(result.IsOk);
        Assert.Equal((path, type), (result.Error!.Field, result.Error.Type));
        Assert.Contains(path, result.Error.Message, StringComparison.Ordinal);
        Assert.Equal("7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71", result.RequestId);
    }

    [Fact]
    public void Parse_OverTheSizeLimit_FailsBeforeParsing()
    {
        var garbage = new byte[2048];
        Array.Fill(garbage, (byte)'{');
        var error = DecideCodec.Parse(garbage, maxRequestBytes: 1024).Error!;
        Assert.Equal((Cp1ErrorCodes.InvalidRequest, Cp1ErrorTypes.TooLarge), (error.Code, error.Type));
        Assert.Contains("1024", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", Cp1ErrorTypes.InvalidJson)]
    [InlineData("[1,2]", Cp1ErrorTypes.InvalidJson)]
    [InlineData("{\"version\":", Cp1ErrorTypes.InvalidJson)]
    [InlineData("{\"message\": 5}", Cp1ErrorTypes.InvalidType)]
    public void Parse_NotARequestObject_IsInvalid(string body, string type)
    {
        Assert.Equal(type, Parse(body).Error!.Type);
    }

    [Fact]
    public void Parse_MessageFormMissingType_NamesTheNestedField()
    {
        var json = JsonNode.Parse(Cp1Fixtures.Request("route_request_message_form.json"))!.AsObject();
        json["message"]!.AsObject().Remove("message_type");
        var result = Parse(json.ToJsonString());
        Assert.Equal("message.message_type", result.Error!.Field);
        Assert.Equal(("msg_1234567890", "trace_abc123"), (result.RequestId, result.TraceId));
    }

    [Fact]
    public void WriteOk_Decision_MatchesTheOkFixtureExactly()
    {
        var decision = new RouteDecision
        {
            ProviderId = "openai",
            Priority = 50,
            ExpectedLatencyMs = 850,
            ExpectedCost = 0.012,
            Reason = "weighted",
            PolicyId = "default",
        };
        var written = DecideCodec.ToBytes(w => DecideCodec.WriteOk(w, decision, "7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71", "trace_abc123"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Cp1Fixtures.Request("decide_response_ok.json")), JsonNode.Parse(written)),
            Encoding.UTF8.GetString(written));
    }

    [Fact]
    public void Decide_TaskFormThroughTheRouter_WritesAnOkReply()
    {
        var router = new Router(new ProviderCatalog([new ProviderDescriptor { Id = "openai" }, new ProviderDescriptor { Id = "anthropic" }]),
            PolicySet.LoadDirectory(Cp1Fixtures.Policies), time: new ManualTimeProvider(), random: new RandomSource(1));
        var request = DecideCodec.Parse(TaskForm).Request!;
        var decision = router.Decide(request.ToRouteRequest());
        var reply = JsonNode.Parse(DecideCodec.ToBytes(w => DecideCodec.WriteDecision(w, decision, request.RequestId, request.TraceId)))!;
        Assert.True(reply["ok"]!.GetValue<bool>());
        Assert.Equal("default", reply["decision"]!["policy_id"]!.GetValue<string>());
        Assert.Equal("trace_abc123", reply["context"]!["trace_id"]!.GetValue<string>());
    }

    [Fact]
    public void WriteDecision_PolicyNotFound_WritesTheCp1Error()
    {
        var reply = JsonNode.Parse(DecideCodec.ToBytes(w => DecideCodec.WriteDecision(w,
            RouteDecision.Failure(RouteErrorCodes.PolicyNotFound, "policy not found: x", "x"), "r1", null)))!;
        Assert.False(reply["ok"]!.GetValue<bool>());
        Assert.Equal("policy_not_found", reply["error"]!["code"]!.GetValue<string>());
        Assert.Equal(404, Cp1ErrorCodes.HttpStatus("policy_not_found"));
    }

    [Theory]
    [InlineData("unauthorized", 401)]
    [InlineData("denied", 403)]
    [InlineData("quota_exceeded", 429)]
    [InlineData("decision_failed", 500)]
    [InlineData("internal", 500)]
    [InlineData("extension_timeout", 504)]
    [InlineData("extension_unavailable", 503)]
    [InlineData("validator_blocked", 403)]
    public void HttpStatus_EveryCode_MapsAsCp1Says(string code, int status)
    {
        Assert.Equal(status, Cp1ErrorCodes.HttpStatus(code));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Parse_RandomAndMutatedInput_NeverThrowsAndAlwaysAnswers(int seed)
    {
        var random = new Random(seed);
        var sources = new[] { TaskForm, Cp1Fixtures.Request("route_request_message_form.json") };
        const string Alphabet = "{}[],:\"\\-0123456789.eEtrufalsn \u00e9";
        for (var i = 0; i < 4_000; i++)
        {
            byte[] bytes;
            if (i % 4 == 0)
            {
                bytes = new byte[random.Next(64)];
                random.NextBytes(bytes);
            }
            else
            {
                bytes = (byte[])sources[random.Next(sources.Length)].Clone();
                for (var e = random.Next(1, 5); e > 0; e--)
                {
                    var at = random.Next(bytes.Length);
                    bytes[at] = random.Next(3) switch
                    {
                        0 => (byte)random.Next(256),
                        1 => (byte)Alphabet[random.Next(Alphabet.Length - 1)],
                        _ => (byte)0xC3,
                    };
                }
                if (random.Next(5) == 0)
                {
                    bytes = bytes[..random.Next(bytes.Length)];
                }
            }
            var result = DecideCodec.Parse(bytes);
            Assert.True(result.IsOk ^ (result.Error is not null));
            if (result.Error is { } error)
            {
                Assert.Equal(Cp1ErrorCodes.InvalidRequest, error.Code);
                DecideCodec.ToBytes(w => DecideCodec.WriteError(w, result));
            }
        }
    }
}
