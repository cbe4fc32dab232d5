using Beamline.Cp1;
using Beamline.Host.Grpc;
using Google.Rpc;
using Grpc.Core;

namespace Beamline.Host.Tests.Grpc;

/// <summary>Every CP1 code has its gRPC status, and the status carries the code a client matches on.</summary>
public sealed class Cp2ErrorsTests
{
    [Theory]
    [InlineData(Cp1ErrorCodes.InvalidRequest, StatusCode.InvalidArgument)]
    [InlineData(Cp1ErrorCodes.Unauthorized, StatusCode.Unauthenticated)]
    [InlineData(Cp1ErrorCodes.Denied, StatusCode.PermissionDenied)]
    [InlineData(Cp1ErrorCodes.ValidatorBlocked, StatusCode.PermissionDenied)]
    [InlineData(Cp1ErrorCodes.NotFound, StatusCode.NotFound)]
    [InlineData(Cp1ErrorCodes.PolicyNotFound, StatusCode.NotFound)]
    [InlineData(Cp1ErrorCodes.ExtensionNotFound, StatusCode.NotFound)]
    [InlineData(Cp1ErrorCodes.QuotaExceeded, StatusCode.ResourceExhausted)]
    [InlineData(Cp1ErrorCodes.ExtensionUnavailable, StatusCode.Unavailable)]
    [InlineData(Cp1ErrorCodes.DecisionFailed, StatusCode.Unavailable)]
    [InlineData(Cp1ErrorCodes.ExtensionTimeout, StatusCode.DeadlineExceeded)]
    [InlineData(Cp1ErrorCodes.Internal, StatusCode.Internal)]
    [InlineData("a_code_cp1_lacks", StatusCode.Internal)]
    public void StatusCodeOf_EveryCp1Code_HasItsGrpcStatus(string code, StatusCode expected)
    {
        var status = Cp2Errors.ToStatus(new Cp1Error(code, "message"));

        Assert.Equal((int)expected, status.Code);
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(code, info.Reason);
        Assert.Equal(Cp2Errors.Domain, info.Domain);
    }

    [Fact]
    public void ToStatus_DeadlineOfThePipeline_IsDeadlineExceeded()
    {
        var status = Cp2Errors.ToStatus(new Cp1Error(Cp1ErrorCodes.DecisionFailed, "late", null, "deadline_exceeded"));

        Assert.Equal((int)StatusCode.DeadlineExceeded, status.Code);
        Assert.Equal("deadline_exceeded", status.GetDetail<ErrorInfo>().Metadata["type"]);
    }

    [Fact]
    public void ToStatus_InvalidField_AddsBadRequest_AndRetryAfter_AddsRetryInfo()
    {
        var invalid = Cp2Errors.ToStatus(new Cp1Error(Cp1ErrorCodes.InvalidRequest, "bad", "message.message_id", Cp1ErrorTypes.RequiredFieldMissing));
        var refused = Cp2Errors.ToStatus(new Cp1Error(Cp1ErrorCodes.QuotaExceeded, "later") { RetryAfterSeconds = 7 });

        Assert.Equal("message.message_id", Assert.Single(invalid.GetDetail<BadRequest>().FieldViolations).Field);
        Assert.Equal("message.message_id", invalid.GetDetail<ErrorInfo>().Metadata["field"]);
        Assert.Equal(TimeSpan.FromSeconds(7), refused.GetDetail<RetryInfo>().RetryDelay.ToTimeSpan());
        Assert.Equal("7", refused.GetDetail<ErrorInfo>().Metadata["retry_after_seconds"]);
    }

    [Fact]
    public void ToStatus_Cp1Details_BecomeErrorInfoMetadata()
    {
        using var details = System.Text.Json.JsonDocument.Parse("""{"validator":"pii","score":0.9}""");

        var status = Cp2Errors.ToStatus(new Cp1Error(Cp1ErrorCodes.ValidatorBlocked, "blocked") { Details = details.RootElement.Clone() });

        var metadata = status.GetDetail<ErrorInfo>().Metadata;
        Assert.Equal("pii", metadata["validator"]);
        Assert.Equal("0.9", metadata["score"]);
    }
}
