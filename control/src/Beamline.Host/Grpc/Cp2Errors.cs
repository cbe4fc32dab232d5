using System.Globalization;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Cp2;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Beamline.Host.Grpc;

/// <summary>
/// CP1 errors as CP2's <c>google.rpc.Status</c>: the gRPC code that fits the CP1 code, and an
/// <c>ErrorInfo</c> (domain <see cref="Domain"/>, reason = the CP1 code, metadata <c>field</c>,
/// <c>type</c> and any other details) that a client matches on; a <c>BadRequest</c> for an invalid
/// request, a <c>RetryInfo</c> when a retry may come later, the execute's result once providers were called.
/// </summary>
internal static class Cp2Errors
{
    /// <summary>The <c>ErrorInfo.domain</c> of every CP2 error.</summary>
    public const string Domain = "beamline.router";

    /// <summary>The <c>details.type</c> of the pipeline's deadline errors.</summary>
    private const string DeadlineExceededType = Beamline.Pipeline.RequestPipeline.DeadlineExceededType;

    /// <summary>The gRPC status code of a CP1 error (docs/cp2.md has the table).</summary>
    public static StatusCode StatusCodeOf(Cp1Error error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.Type == DeadlineExceededType)
        {
            return StatusCode.DeadlineExceeded;
        }
        return error.Code switch
        {
            Cp1ErrorCodes.InvalidRequest => StatusCode.InvalidArgument,
            Cp1ErrorCodes.Unauthorized => StatusCode.Unauthenticated,
            Cp1ErrorCodes.Denied or Cp1ErrorCodes.ValidatorBlocked => StatusCode.PermissionDenied,
            Cp1ErrorCodes.NotFound or Cp1ErrorCodes.PolicyNotFound or Cp1ErrorCodes.ExtensionNotFound => StatusCode.NotFound,
            Cp1ErrorCodes.QuotaExceeded => StatusCode.ResourceExhausted,
            Cp1ErrorCodes.ExtensionUnavailable or Cp1ErrorCodes.DecisionFailed => StatusCode.Unavailable,
            Cp1ErrorCodes.ExtensionTimeout => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        };
    }

    /// <summary>The <c>google.rpc.Status</c> of <paramref name="error"/>; <paramref name="result"/> (an execute's, with its attempts) is added when given.</summary>
    public static Google.Rpc.Status ToStatus(Cp1Error error, ExecuteResult? result = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        var info = new ErrorInfo { Reason = error.Code, Domain = Domain };
        if (error.Field is not null)
        {
            info.Metadata["field"] = error.Field;
        }
        if (error.Type is not null)
        {
            info.Metadata["type"] = error.Type;
        }
        if (error.RetryAfterSeconds is { } retryAfter)
        {
            info.Metadata["retry_after_seconds"] = retryAfter.ToString(CultureInfo.InvariantCulture);
        }
        if (error.Details is { ValueKind: JsonValueKind.Object } details)
        {
            foreach (var property in details.EnumerateObject())
            {
                info.Metadata[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }
        var status = new Google.Rpc.Status { Code = (int)StatusCodeOf(error), Message = error.Message };
        status.Details.Add(Any.Pack(info));
        if (error.Code == Cp1ErrorCodes.InvalidRequest && error.Field is not null)
        {
            var badRequest = new BadRequest();
            badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = error.Field, Description = error.Message });
            status.Details.Add(Any.Pack(badRequest));
        }
        if (error.RetryAfterSeconds is > 0 and var seconds)
        {
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(seconds)) }));
        }
        if (result is not null)
        {
            status.Details.Add(Any.Pack(result));
        }
        return status;
    }

    /// <summary>The exception a gRPC service throws to end a call with <paramref name="error"/>.</summary>
    public static RpcException ToException(Cp1Error error, ExecuteResult? result = null) => ToStatus(error, result).ToRpcException();
}
