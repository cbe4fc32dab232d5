using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline;

namespace Beamline.Gateway;

/// <summary>A gateway error before it is written in the client's format.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Message">What went wrong, for people.</param>
/// <param name="Code">A machine-readable code (the CP1 code, or the upstream's), or null.</param>
/// <param name="RetryAfterSeconds">The <c>Retry-After</c> of a 429 or 503, or null.</param>
public readonly record struct GatewayError(int Status, string Message, string? Code, int? RetryAfterSeconds = null);

/// <summary>
/// Errors in the client's own format with the status its SDK expects: OpenAI
/// <c>{"error":{"message","type","param","code"}}</c> and Anthropic
/// <c>{"type":"error","error":{"type","message"}}</c>.
/// </summary>
public static class GatewayErrors
{
    /// <summary>
    /// The error a failed pipeline result is for a gateway client: the CP1 code's status, except
    /// that a request every provider failed is mapped from the upstream — its 5xx as it was, a
    /// timeout as 504, anything else 502 — and a deadline as 504.
    /// </summary>
    public static GatewayError FromResult(ExecuteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var error = result.Error ?? throw new ArgumentException("the result succeeded", nameof(result));
        return FromCp1(error, result.LastAnswer);
    }

    /// <summary>The error a CP1 error is for a gateway client (see <see cref="FromResult"/>).</summary>
    public static GatewayError FromCp1(Cp1Error error, Pipeline.Providers.ProviderAnswer? last = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        var status = error.HttpStatus;
        if (error.Type == RequestPipeline.DeadlineExceededType)
        {
            status = 504;
        }
        else if (error.Code == Cp1ErrorCodes.DecisionFailed && last is { } answer)
        {
            status = answer.HttpStatus is >= 500 and <= 599 ? answer.HttpStatus : answer.Status == "timeout" ? 504 : 502;
        }
        else if (error.Code == Cp1ErrorCodes.PolicyNotFound)
        {
            status = 404;
        }
        // A budget's refusal reads as OpenAI's own out-of-credit error (429 insufficient_quota), which SDKs do not retry.
        var code = error.Code == Cp1ErrorCodes.PolicyNotFound ? "model_not_found" : RequestPipeline.IsBudgetRefusal(error) ? InsufficientQuota : error.Code;
        return new GatewayError(status, error.Message, code,
            error.RetryAfterSeconds ?? (status == 429 && last is { RetryAfterSeconds: > 0 } limited ? limited.RetryAfterSeconds : null));
    }

    /// <summary>The OpenAI code (and type) of a refusal by a budget.</summary>
    public const string InsufficientQuota = "insufficient_quota";

    /// <summary>The OpenAI <c>error.type</c> of a status.</summary>
    public static string OpenAIType(int status) => status switch
    {
        400 or 404 or 409 or 413 or 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        503 => "service_unavailable",
        504 => "timeout",
        _ => "api_error",
    };

    /// <summary>The Anthropic <c>error.type</c> of a status.</summary>
    public static string AnthropicType(int status) => status switch
    {
        400 or 409 or 413 or 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    };

    /// <summary>Writes the OpenAI error body.</summary>
    public static void WriteOpenAI(Utf8JsonWriter writer, in GatewayError error, string? param = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", error.Message);
        writer.WriteString("type", error.Code == InsufficientQuota ? InsufficientQuota : OpenAIType(error.Status));
        if (param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", param);
        }
        if (error.Code is null)
        {
            writer.WriteNull("code");
        }
        else
        {
            writer.WriteString("code", error.Code);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Writes the Anthropic error body.</summary>
    public static void WriteAnthropic(Utf8JsonWriter writer, in GatewayError error)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        writer.WriteStartObject("error");
        writer.WriteString("type", AnthropicType(error.Status));
        writer.WriteString("message", error.Message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The error body as bytes, in <paramref name="format"/>'s shape.</summary>
    public static byte[] ToBytes(in GatewayError error, WireFormat format)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (format == WireFormat.AnthropicMessages)
            {
                WriteAnthropic(writer, error);
            }
            else
            {
                WriteOpenAI(writer, error);
            }
        }
        return buffer.WrittenSpan.ToArray();
    }
}
