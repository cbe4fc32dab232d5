using System.Collections.Immutable;
using Beamline.Cp1;
using Beamline.Cp2;
using Beamline.Host.Grpc;
using Beamline.Pipeline;
using Beamline.Tenancy;
using DecideRequest = Beamline.Cp2.DecideRequest;

namespace Beamline.Host.Tests.Grpc;

/// <summary>CP2 requests become the pipeline's request only when valid, with the key's tenant and limits.</summary>
public sealed class Cp2RequestsTests
{
    private static readonly TenantPrincipal Principal = new()
    {
        TenantId = "tenant_a",
        KeyId = "key1",
        Limits = new TenancyLimits { AllowedProviders = ImmutableArray.Create("p1", "p2") },
    };

    private static DecideRequest Valid() => new()
    {
        Version = "2",
        Message = new Message { MessageId = "m1", MessageType = "chat", PayloadText = "hi" },
    };

    [Fact]
    public void From_ValidRequest_TakesTheTenantFromTheKey()
    {
        var request = Valid();
        request.Context["session_id"] = "s1";
        request.Budget = new CostBudget { MaxCostNanos = 20_000_000 };

        var pipeline = Cp2Requests.From(request, Principal, "test", TimeSpan.FromSeconds(2), stream: false, out var error);

        Assert.Null(error);
        Assert.Equal("tenant_a", pipeline!.TenantId);
        Assert.Equal("s1", pipeline.SessionId);
        Assert.Equal(0.02, pipeline.MaxCost);
        Assert.Equal(PayloadKind.Text, pipeline.PayloadKind);
        Assert.Equal(TimeSpan.FromSeconds(2), pipeline.Timeout);
    }

    [Fact]
    public void From_JsonPayload_IsPassedAsJson()
    {
        var request = Valid();
        request.Message.PayloadJson = """{"messages":[{"role":"user","content":"hi"}]}""";

        var pipeline = Cp2Requests.From(request, Principal, "test", null, stream: false, out var error);

        Assert.Null(error);
        Assert.Equal(PayloadKind.Json, pipeline!.PayloadKind);
    }

    [Fact]
    public void From_AllowedProviders_NarrowTheKeysButNeverWiden()
    {
        var request = Valid();
        request.Constraints = new Constraints { AllowedProviders = { "p2", "p3" } };

        var pipeline = Cp2Requests.From(request, Principal, "test", null, stream: false, out _);

        Assert.Equal(["p2"], pipeline!.Caller.AllowedProviders!.Value.ToArray());
    }

    public static TheoryData<string, Action<DecideRequest>> Invalid => new()
    {
        { "version", r => r.Version = "1" },
        { "message", r => r.Message = null },
        { "message.message_id", r => r.Message.MessageId = "" },
        { "message.message_id", r => r.Message.MessageId = new string('x', 129) },
        { "message.message_type", r => r.Message.MessageType = "" },
        { "budget", r => r.Budget = new CostBudget { MaxCostUsd = 1, MaxCostNanos = 1 } },
        { "budget.max_cost_usd", r => r.Budget = new CostBudget { MaxCostUsd = -1 } },
        { "budget.max_cost_usd", r => r.Budget = new CostBudget { MaxCostUsd = double.NaN } },
        { "budget.max_cost_nanos", r => r.Budget = new CostBudget { MaxCostNanos = -5 } },
        { "constraints.max_latency_ms", r => r.Constraints = new Constraints { MaxLatencyMs = double.PositiveInfinity } },
        { "message.payload_json", r => r.Message.PayloadJson = "{\"unclosed\":" },
        { "message.payload_json", r => r.Message.PayloadJson = "" },
        { "message.payload_json", r => r.Message.PayloadJson = "{} {}" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void From_InvalidField_IsInvalidRequestNamingIt(string field, Action<DecideRequest> spoil)
    {
        var request = Valid();
        spoil(request);

        var pipeline = Cp2Requests.From(request, Principal, "test", null, stream: false, out var error);

        Assert.Null(pipeline);
        Assert.Equal(Cp1ErrorCodes.InvalidRequest, error!.Code);
        Assert.Equal(field, error.Field);
    }
}
