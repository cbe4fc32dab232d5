using System.Diagnostics;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline;
using Beamline.Pipeline.Providers;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// The CP1 execute face (<c>POST /v1/execute</c> and <c>beamline.router.v1.execute</c>), transport
/// aside: decode the CP1 request, run it through the pipeline (admit, extensions, route, the
/// provider with its fallback plan, post), and write the CP1 reply with every attempt.
/// </summary>
internal sealed class ExecuteProcessor(RequestPipeline pipeline, ITenantDirectory directory)
{
    /// <summary>
    /// Executes a CP1 decide request and writes the reply; returns its HTTP status.
    /// <paramref name="principal"/> is the API key's principal over HTTP, null on the trusted NATS
    /// bus, where the body's <c>tenant_id</c> must only name a known tenant.
    /// </summary>
    public async Task<int> ProcessAsync(ReadOnlyMemory<byte> body, TenantPrincipal? principal, Utf8JsonWriter writer, int maxRequestBytes,
        CancellationToken cancellationToken)
    {
        var parsed = DecideCodec.Parse(body.Span, maxRequestBytes);
        if (parsed.Request is not { } request)
        {
            DecideCodec.WriteError(writer, parsed);
            return parsed.Error?.HttpStatus ?? 400;
        }
        if (principal is not null && DecideProcessor.Refuse(principal, request) is { } refusal)
        {
            DecideCodec.WriteError(writer, refusal, request.RequestId, request.TraceId);
            return refusal.HttpStatus;
        }
        var face = principal is null ? "cp1_nats" : "cp1_http";
        var result = await pipeline.ExecuteAsync(Cp1PipelineRequests.From(request, principal, directory, face), cancellationToken).ConfigureAwait(false);
        if (result.Error is { } error)
        {
            if (result.Attempts.Count == 0)
            {
                DecideCodec.WriteError(writer, WithPayloadField(error, request), request.RequestId, request.TraceId);
                return error.HttpStatus;
            }
            return WriteFailed(writer, request, result.PolicyId, result.Attempts, error, result.LastAnswer!.Value);
        }
        WriteOk(writer, request, result);
        return 200;
    }

    // The pipeline names payload fields generically: CP1 has them under task or message.
    private static Cp1Error WithPayloadField(Cp1Error error, DecideRequest request)
        => error.Field is { } field && field.StartsWith("payload", StringComparison.Ordinal)
            ? error with { Field = (request.Form == DecideRequestForm.Message ? "message." : "task.") + field }
            : error;

    /// <summary><c>{"ok":true,"result":{...},"route":{...},"context":{...}}</c>.</summary>
    private static void WriteOk(Utf8JsonWriter writer, DecideRequest request, ExecuteResult result)
    {
        var last = result.Attempts[^1];
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteStartObject("result");
        writer.WriteString("status", last.Answer.Status);
        writer.WriteBase64String("output", result.Output.Span);
        if (last.Answer.HttpStatus != 0)
        {
            writer.WriteNumber("http_status", last.Answer.HttpStatus);
        }
        writer.WriteNumber("latency_us", last.LatencyUs);
        if (result.Usage is { } usage)
        {
            // What the call used and cost at the catalog's prices (estimated: counted here, the provider reported none).
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", usage.InputTokens);
            writer.WriteNumber("output_tokens", usage.OutputTokens);
            writer.WriteNumber("cached_input_tokens", usage.CachedInputTokens);
            writer.WriteBoolean("estimated", usage.Estimated);
            writer.WriteEndObject();
            writer.WriteNumber("cost_usd", Beamline.Pipeline.Costs.Nanos.ToUsd(result.CostNanos));
            if (result.Model is not null)
            {
                writer.WriteString("model", result.Model);
            }
        }
        writer.WriteEndObject();
        WriteRoute(writer, result.PolicyId, last.ProviderId, result.Attempts);
        WriteContext(writer, request);
        writer.WriteEndObject();
    }

    /// <summary>
    /// The CP1 error <paramref name="error"/> (<c>decision_failed</c>, <c>invalid_request</c> for a
    /// provider's 4xx, <c>quota_exceeded</c> for its 429) with every attempt in <c>details.attempts</c>,
    /// the last provider's <c>http_status</c> and, for <c>quota_exceeded</c>, its <c>Retry-After</c>
    /// as <c>retry_after_seconds</c>. Returns the code's HTTP status.
    /// </summary>
    private static int WriteFailed(Utf8JsonWriter writer, DecideRequest request, string? policyId, IReadOnlyList<ProviderAttempt> attempts, Cp1Error error,
        in ProviderAnswer last)
    {
        var code = error.Code;
        var message = error.Message;
        writer.WriteStartObject();
        writer.WriteBoolean("ok", false);
        writer.WriteStartObject("error");
        writer.WriteString("code", code);
        writer.WriteString("message", message);
        writer.WriteStartObject("details");
        if (policyId is not null)
        {
            writer.WriteString("policy_id", policyId);
        }
        if (last.HttpStatus != 0)
        {
            writer.WriteNumber("http_status", last.HttpStatus);
        }
        if (code == Cp1ErrorCodes.QuotaExceeded && (error.RetryAfterSeconds ?? last.RetryAfterSeconds) is > 0 and var retryAfter)
        {
            writer.WriteNumber("retry_after_seconds", retryAfter);
        }
        if (error.Details is { ValueKind: JsonValueKind.Object } details)
        {
            // The pipeline's own details (a budget's refusal on a fallback: reason, level, limit).
            foreach (var member in details.EnumerateObject())
            {
                member.WriteTo(writer);
            }
        }
        WriteAttempts(writer, attempts);
        writer.WriteEndObject();
        writer.WriteEndObject();
        WriteRoute(writer, policyId, null, attempts);
        WriteContext(writer, request);
        writer.WriteEndObject();
        return Cp1ErrorCodes.HttpStatus(code);
    }

    private static void WriteRoute(Utf8JsonWriter writer, string? policyId, string? providerId, IReadOnlyList<ProviderAttempt> attempts)
    {
        writer.WriteStartObject("route");
        if (policyId is not null)
        {
            writer.WriteString("policy_id", policyId);
        }
        if (providerId is null)
        {
            writer.WriteNull("provider_id");
        }
        else
        {
            writer.WriteString("provider_id", providerId);
        }
        WriteAttempts(writer, attempts);
        writer.WriteEndObject();
    }

    private static void WriteAttempts(Utf8JsonWriter writer, IReadOnlyList<ProviderAttempt> attempts)
    {
        writer.WriteStartArray("attempts");
        foreach (var attempt in attempts)
        {
            writer.WriteStartObject();
            writer.WriteString("provider_id", attempt.ProviderId);
            writer.WriteString("reason", attempt.Reason);
            writer.WriteString("status", attempt.Answer.Succeeded ? "ok" : attempt.Answer.Status);
            if (attempt.Answer.ErrorCode is null)
            {
                writer.WriteNull("error_code");
            }
            else
            {
                writer.WriteString("error_code", attempt.Answer.ErrorCode);
            }
            if (attempt.Answer.Message is not null)
            {
                writer.WriteString("message", attempt.Answer.Message);
            }
            if (attempt.Answer.HttpStatus != 0)
            {
                writer.WriteNumber("http_status", attempt.Answer.HttpStatus);
            }
            writer.WriteNumber("latency_us", attempt.LatencyUs);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void WriteContext(Utf8JsonWriter writer, DecideRequest request)
    {
        writer.WriteStartObject("context");
        writer.WriteString("request_id", request.RequestId);
        if (request.TraceId is null)
        {
            writer.WriteNull("trace_id");
        }
        else
        {
            writer.WriteString("trace_id", request.TraceId);
        }
        writer.WriteEndObject();
    }
}
