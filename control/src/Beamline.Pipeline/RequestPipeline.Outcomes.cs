using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Providers;
using Beamline.Pipeline.Telemetry;
using Beamline.Policies;
using Beamline.Routing;

namespace Beamline.Pipeline;

/// <summary>The pipeline's errors and activity events: one place that says how each ending reads.</summary>
public sealed partial class RequestPipeline
{
    /// <summary>The <c>details.type</c> of a request that ran out of time.</summary>
    public const string DeadlineExceededType = "deadline_exceeded";

    private static Cp1Error QuotaError(AdmissionLease lease)
        => new(Cp1ErrorCodes.QuotaExceeded, lease.Refusal!) { RetryAfterSeconds = lease.RetryAfterSeconds };

    private static Cp1Error DecisionError(in RouteDecision decision)
    {
        var code = decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed;
        return new Cp1Error(code, decision.ErrorMessage ?? code, code == Cp1ErrorCodes.PolicyNotFound ? "policy_id" : null);
    }

    private static Cp1Error DeadlineError(PipelineRequest request, string what)
        => new(Cp1ErrorCodes.DecisionFailed, $"{what} did not finish within the request's deadline", null, DeadlineExceededType);

    // A provider that refused the request itself (a 4xx other than 429) is the caller's problem,
    // which no other provider would see differently; any other failure without a fallback kind
    // is one no fallback can help.
    private static Cp1Error NoFallbackError(string providerId, in ProviderAnswer answer)
        => answer.HttpStatus is >= 400 and <= 499
            ? new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"provider '{providerId}' refused the request: HTTP {answer.HttpStatus}")
            : new Cp1Error(Cp1ErrorCodes.DecisionFailed, $"provider '{providerId}' failed in a way no fallback can help: {answer.Message ?? answer.ErrorCode}");

    // The plan is exhausted on a rate limit: the caller should come back later, as for the control
    // plane's own quotas.
    private static Cp1Error ExhaustedError(in RouteDecision next, in ProviderAnswer last)
    {
        var rateLimited = (last.Failure & FailureKinds.RateLimited) != 0;
        return new Cp1Error(rateLimited ? Cp1ErrorCodes.QuotaExceeded : Cp1ErrorCodes.DecisionFailed, next.ErrorMessage ?? "all providers failed")
        {
            RetryAfterSeconds = rateLimited && last.RetryAfterSeconds > 0 ? last.RetryAfterSeconds : null,
        };
    }

    private DecideResult Final(PipelineRequest request, DecideResult result)
    {
        if (_metrics is not null)
        {
            Measure(request, result.Decision.PolicyId ?? request.PolicyId, result.Decision.ProviderId, result.Error, attempted: false);
        }
        if (_activity.IsEnabled)
        {
            Emit(request, ActivityKinds.Final, status: result.Error?.Code ?? "ok", subject: result.Decision.ProviderId, detail: result.Error?.Message);
        }
        foreach (var accounting in _accounting)
        {
            try
            {
                accounting.Decided(request, result);
            }
            catch (Exception e)
            {
                // One sink failing (a closed audit log) must not cost the request its answer or the other sinks their record.
                LogAccountingFailed(e, accounting.GetType().Name, request.RequestId);
            }
        }
        return result;
    }

    private ExecuteResult Final(PipelineRequest request, ExecuteResult result)
    {
        if (result.Usage is null)
        {
            // An ending after a call was charged (a post extension's error, the deadline) still carries what it cost.
            for (var i = result.Attempts.Count - 1; i >= 0; i--)
            {
                if (result.Attempts[i].Usage is { } usage)
                {
                    result.Charged(usage, result.Attempts[i].CostNanos, result.Attempts[i].Model);
                    break;
                }
            }
        }
        if (_metrics is not null)
        {
            Measure(request, result.PolicyId ?? request.PolicyId, result.ProviderId ?? (result.Attempts.Count == 0 ? null : result.Attempts[^1].ProviderId),
                result.Error, attempted: result.Attempts.Count != 0);
            if (result.Usage is { } usage && (result.ProviderId ?? (result.Attempts.Count == 0 ? null : result.Attempts[^1].ProviderId)) is { } charged)
            {
                _metrics.Spent(request.TenantId, charged, result.Model, usage, result.CostNanos);
            }
        }
        if (_activity.IsEnabled)
        {
            Emit(request, ActivityKinds.Final, status: result.Error?.Code ?? "ok", subject: result.ProviderId, detail: result.Error?.Message);
        }
        if (result.Error is { } error && _logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            LogFailed(request.TenantId, request.RequestId, error.Code, error.Message);
        }
        foreach (var accounting in _accounting)
        {
            try
            {
                accounting.Executed(request, result);
            }
            catch (Exception e)
            {
                LogAccountingFailed(e, accounting.GetType().Name, request.RequestId);
            }
        }
        return result;
    }

    // Every ending goes through Final, so the request metrics are recorded here and nowhere else.
    // A quota_exceeded without a provider attempt is admission's refusal (a provider's 429 that
    // exhausted the plan has attempts).
    private void Measure(PipelineRequest request, string? policyId, string? providerId, Cp1Error? error, bool attempted)
    {
        var status = error?.Code ?? "ok";
        _metrics!.RequestFinished(request.Face, request.TenantId, policyId, providerId, status, System.Diagnostics.Stopwatch.GetElapsedTime(request.StartedAt));
        if (error?.Code == Cp1ErrorCodes.QuotaExceeded && (!attempted || IsBudgetRefusal(error)))
        {
            _metrics.QuotaRefused(request.TenantId, IsBudgetRefusal(error) ? BudgetReason : "quota");
        }
    }

    private void EmitDecision(PipelineRequest request, in RouteDecision decision)
    {
        if (_activity.IsEnabled)
        {
            Emit(request, ActivityKinds.Decision, subject: decision.ProviderId ?? decision.PolicyId,
                status: decision.IsSuccess ? decision.Reason : decision.ErrorCode, detail: decision.IsSuccess ? decision.PolicyId : decision.ErrorMessage);
        }
    }

    private void EmitAttempt(PipelineRequest request, string providerId, in ProviderAnswer answer, TimeSpan latency)
    {
        _metrics?.ProviderAttempted(providerId, answer.Succeeded ? "ok" : answer.ErrorCode ?? answer.Status);
        if (_activity.IsEnabled)
        {
            Emit(request, ActivityKinds.ProviderAttempt, subject: providerId, status: answer.Succeeded ? "ok" : answer.ErrorCode ?? answer.Status,
                latencyMs: latency.TotalMilliseconds, detail: answer.Succeeded ? null : answer.Message);
        }
    }

    private void Emit(PipelineRequest request, string kind, string? stage = null, string? subject = null, string? status = null,
        double? latencyMs = null, string? detail = null)
    {
        if (!_activity.IsEnabled)
        {
            return;
        }
        _activity.Publish(new ActivityEvent
        {
            Kind = kind,
            TenantId = request.TenantId,
            RequestId = request.RequestId,
            TraceId = request.TraceId,
            Stage = stage,
            Subject = subject,
            Status = status,
            LatencyMs = latencyMs,
            Detail = detail,
        });
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Error,
        Message = "Accounting sink {Sink} failed for request {RequestId}")]
    private partial void LogAccountingFailed(Exception exception, string sink, string requestId);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Debug,
        Message = "Request {RequestId} of tenant {TenantId} ended with {Code}: {Message}")]
    private partial void LogFailed(string tenantId, string requestId, string code, string message);
}

/// <summary>Reads what a provider's answer is, for post extensions.</summary>
public static class PayloadKinds
{
    /// <summary>JSON when it parses as a JSON value, text when it is UTF-8, otherwise binary.</summary>
    public static PayloadKind Detect(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return PayloadKind.None;
        }
        var first = bytes.TrimStart(" \t\r\n"u8);
        if (!first.IsEmpty && first[0] is (byte)'{' or (byte)'[' or (byte)'"')
        {
            var reader = new Utf8JsonReader(bytes);
            try
            {
                if (reader.Read() && reader.TrySkip() && !reader.Read())
                {
                    return PayloadKind.Json;
                }
            }
            catch (JsonException)
            {
                // Not JSON: text or bytes.
            }
        }
        return System.Text.Unicode.Utf8.IsValid(bytes) ? PayloadKind.Text : PayloadKind.Binary;
    }
}
