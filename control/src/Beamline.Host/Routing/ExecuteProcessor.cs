using System.Diagnostics;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Dispatch;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Beamline.Tenancy;

namespace Beamline.Host.Routing;

/// <summary>
/// <c>POST /v1/execute</c>, transport aside: decide, run the chosen provider as a block, and on
/// failure walk the policy's fallback plan (retries, then fallback providers) until a provider
/// answers or the plan is exhausted. Every call's outcome is fed back to the router, so its
/// statistics and circuit breakers learn from real traffic.
/// </summary>
internal sealed class ExecuteProcessor(RoutingService routing, DecideProcessor decide, IBlockDispatcher dispatcher, NatsProviderClient natsProviders)
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
        if (principal is not null && decide.Refuse(principal, request) is { } refusal)
        {
            DecideCodec.WriteError(writer, refusal, request.RequestId, request.TraceId);
            return refusal.HttpStatus;
        }
        // The in-flight slots are held until the provider calls are over, and given back however they end.
        using var lease = decide.EnterQuota(principal, request);
        if (!lease.IsAdmitted)
        {
            return DecideProcessor.WriteQuotaExceeded(writer, lease.Refusal, request);
        }

        var route = decide.ToRouteRequest(principal, request);
        var decision = routing.Decide(route);
        if (!decision.IsSuccess)
        {
            DecideCodec.WriteDecision(writer, decision, request.RequestId, request.TraceId);
            return Cp1ErrorCodes.HttpStatus(decision.ErrorCode ?? Cp1ErrorCodes.DecisionFailed);
        }

        var attempts = new List<Attempt>(4);
        var cursor = default(FallbackCursor);
        while (true)
        {
            var providerId = decision.ProviderId!;
            if (routing.TryGetProvider(providerId, out var provider) && ProviderBlocks.RefuseModel(provider, request) is { } refused)
            {
                // The request is at fault, not the provider: no call, no outcome, no fallback.
                routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                var field = request.Form == DecideRequestForm.Message ? "message.payload.model" : "task.payload.model";
                var error = new Cp1Error(Cp1ErrorCodes.InvalidRequest, refused, field, Cp1ErrorTypes.InvalidValue);
                DecideCodec.WriteError(writer, error, request.RequestId, request.TraceId);
                return error.HttpStatus;
            }
            CallOutcome outcome;
            TimeSpan latency;
            // Every decision may hold a half-open trial slot of the provider's breaker: an
            // outcome frees it, and so must every path that records none.
            try
            {
                (outcome, latency) = await CallAsync(providerId, request, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                throw;
            }
            attempts.Add(new Attempt(providerId, decision.Reason, outcome, (long)latency.TotalMicroseconds));
            if (outcome.ErrorCode == ExecErrorCodes.Cancelled)
            {
                // The caller went away: the call says nothing about the provider.
                routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
            }
            else
            {
                // A 4xx answer (Failure None) says the provider is up: it counts as a success.
                routing.RecordOutcome(new RouteOutcome
                {
                    TenantId = request.TenantId,
                    PolicyId = decision.PolicyId,
                    ProviderId = providerId,
                    Failure = outcome.Failure,
                    LatencyMs = latency.TotalMilliseconds,
                });
            }
            if (outcome.Succeeded)
            {
                WriteOk(writer, request, decision.PolicyId, attempts);
                return 200;
            }
            // Nobody is left to answer (the client went away) or the control plane is stopping:
            // the caller's transport decides what that means; it is not a failed decision.
            cancellationToken.ThrowIfCancellationRequested();
            if (outcome.Failure == FailureKinds.None)
            {
                if (outcome.HttpStatus is >= 400 and <= 499)
                {
                    // The provider refused the request itself (a 4xx other than 429): the caller's
                    // problem, which no other provider would see differently.
                    return WriteFailed(writer, request, decision.PolicyId, attempts, Cp1ErrorCodes.InvalidRequest,
                        $"provider '{providerId}' refused the request: HTTP {outcome.HttpStatus}", outcome);
                }
                return WriteFailed(writer, request, decision.PolicyId, attempts, Cp1ErrorCodes.DecisionFailed,
                    $"provider '{providerId}' failed in a way no fallback can help: {outcome.Message ?? outcome.ErrorCode}", outcome);
            }
            var next = routing.DecideFallback(route, ref cursor, providerId, outcome.Failure);
            if (!next.IsSuccess)
            {
                // The plan is exhausted on a rate limit: the caller should come back later, as
                // for the control plane's own quotas.
                var code = (outcome.Failure & FailureKinds.RateLimited) != 0 ? Cp1ErrorCodes.QuotaExceeded : Cp1ErrorCodes.DecisionFailed;
                return WriteFailed(writer, request, decision.PolicyId, attempts, code, next.ErrorMessage ?? "all providers failed", outcome);
            }
            decision = next;
        }
    }

    private async Task<(CallOutcome Outcome, TimeSpan Latency)> CallAsync(string providerId, DecideRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (!routing.TryGetProvider(providerId, out var provider))
        {
            return (Unsupported($"provider '{providerId}' is named by the policy but has no provider entry"), TimeSpan.Zero);
        }
        if (provider.Kind == ProviderKind.NatsProvider)
        {
            var answer = await natsProviders.CallAsync(provider, request, cancellationToken).ConfigureAwait(false);
            return (answer, Stopwatch.GetElapsedTime(started));
        }
        if (ProviderBlocks.Build(provider, request, out var reason) is not { } block)
        {
            return (Unsupported(reason!), TimeSpan.Zero);
        }
        var result = await dispatcher.DispatchAsync(block, cancellationToken).ConfigureAwait(false);
        return (ProviderBlocks.Interpret(provider, result), Stopwatch.GetElapsedTime(started));
    }

    // A provider that cannot be called is a failure of that provider (its breaker may open), not
    // of the request: the plan goes on to the next one.
    private static CallOutcome Unsupported(string message) =>
        new(false, FailureKinds.ServerError, "error", ProviderBlocks.UnsupportedProvider, message, 0, default);

    /// <summary><c>{"ok":true,"result":{...},"route":{...},"context":{...}}</c>.</summary>
    private static void WriteOk(Utf8JsonWriter writer, DecideRequest request, string? policyId, List<Attempt> attempts)
    {
        var last = attempts[^1];
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteStartObject("result");
        writer.WriteString("status", last.Outcome.Status);
        writer.WriteBase64String("output", last.Outcome.Output.Span);
        if (last.Outcome.HttpStatus != 0)
        {
            writer.WriteNumber("http_status", last.Outcome.HttpStatus);
        }
        writer.WriteNumber("latency_us", last.LatencyUs);
        writer.WriteEndObject();
        WriteRoute(writer, policyId, last.ProviderId, attempts);
        WriteContext(writer, request);
        writer.WriteEndObject();
    }

    /// <summary>
    /// The CP1 error <paramref name="code"/> (<c>decision_failed</c>, <c>invalid_request</c> for a
    /// provider's 4xx, <c>quota_exceeded</c> for its 429) with every attempt in <c>details.attempts</c>,
    /// the last provider's <c>http_status</c> and, for <c>quota_exceeded</c>, its <c>Retry-After</c>
    /// as <c>retry_after_seconds</c>. Returns the code's HTTP status.
    /// </summary>
    private static int WriteFailed(Utf8JsonWriter writer, DecideRequest request, string? policyId, List<Attempt> attempts, string code,
        string message, in CallOutcome last)
    {
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
        if (code == Cp1ErrorCodes.QuotaExceeded && last.RetryAfterSeconds > 0)
        {
            writer.WriteNumber("retry_after_seconds", last.RetryAfterSeconds);
        }
        WriteAttempts(writer, attempts);
        writer.WriteEndObject();
        writer.WriteEndObject();
        WriteRoute(writer, policyId, null, attempts);
        WriteContext(writer, request);
        writer.WriteEndObject();
        return Cp1ErrorCodes.HttpStatus(code);
    }

    private static void WriteRoute(Utf8JsonWriter writer, string? policyId, string? providerId, List<Attempt> attempts)
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

    private static void WriteAttempts(Utf8JsonWriter writer, List<Attempt> attempts)
    {
        writer.WriteStartArray("attempts");
        foreach (var attempt in attempts)
        {
            writer.WriteStartObject();
            writer.WriteString("provider_id", attempt.ProviderId);
            writer.WriteString("reason", attempt.Reason);
            writer.WriteString("status", attempt.Outcome.Succeeded ? "ok" : attempt.Outcome.Status);
            if (attempt.Outcome.ErrorCode is null)
            {
                writer.WriteNull("error_code");
            }
            else
            {
                writer.WriteString("error_code", attempt.Outcome.ErrorCode);
            }
            if (attempt.Outcome.Message is not null)
            {
                writer.WriteString("message", attempt.Outcome.Message);
            }
            if (attempt.Outcome.HttpStatus != 0)
            {
                writer.WriteNumber("http_status", attempt.Outcome.HttpStatus);
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

    private readonly record struct Attempt(string ProviderId, string Reason, CallOutcome Outcome, long LatencyUs);
}
