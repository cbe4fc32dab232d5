using Beamline.Cp1;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Providers;
using Beamline.Policies;
using Beamline.Cp2;
using DecideRequest = Beamline.Cp2.DecideRequest;
using Beamline.Routing;
using Beamline.Tenancy;
using Google.Protobuf;

namespace Beamline.Host.Grpc;

/// <summary>The end of a CP2 call: its answer, or the error (with an execute's result once providers were called).</summary>
/// <typeparam name="T">The answer's message.</typeparam>
internal readonly record struct Cp2Outcome<T>(T? Answer, Cp1Error? Error, Cp2.ExecuteResult? FailedResult = null) where T : class;

/// <summary>
/// The CP2 face, transport aside (gRPC and NATS both call it, each with its caller: an API key's
/// over gRPC, the named tenant's on the trusted NATS bus): check and translate the request, run the pipeline's decide or execute, translate the answer. Nothing here
/// decides or calls a provider: the pipeline does, as for CP1.
/// </summary>
internal sealed class Cp2Processor(RequestPipeline pipeline, ITenantDirectory directory, IEnumerable<IStreamTextCodec> textCodecs,
    Routing.DecisionStore decisions)
{
    private readonly IStreamTextCodec[] _textCodecs = [.. textCodecs];

    // The reply metadata of most decides: the same for every decide of this process, so built once
    // (the decision store keeps a reference to it), as CP1's face does.
    private readonly KeyValuePair<string, string>[] _instanceOnly = [new("instance_id", pipeline.Routing.InstanceId)];

    /// <summary>The request metadata extensions add that a decide reports in its decision's metadata.</summary>
    private static readonly string[] ExtensionMetadata = ["validator_warnings", "extensions_skipped"];

    /// <summary>The tenant directory the keys (gRPC) and tenant ids (NATS) are checked against.</summary>
    public ITenantDirectory Directory => directory;

    /// <summary>
    /// Decides. Completes synchronously when the policy has no pre or validator extensions (the
    /// NATS face then answers on its subscription's loop, as CP1 does).
    /// </summary>
    public ValueTask<Cp2Outcome<DecideResponse>> DecideAsync(DecideRequest request, Caller caller, string face, TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        var pipelineRequest = Cp2Requests.From(request, caller, face, timeout, stream: false, out var invalid);
        if (pipelineRequest is null)
        {
            return new(new Cp2Outcome<DecideResponse>(null, invalid));
        }
        var pending = pipeline.DecideAsync(pipelineRequest, cancellationToken);
        return pending.IsCompletedSuccessfully
            ? new(Finish(pipelineRequest, pending.Result))
            : CompleteAsync(pipelineRequest, pending);
    }

    private async ValueTask<Cp2Outcome<DecideResponse>> CompleteAsync(PipelineRequest request, ValueTask<DecideResult> pending)
        => Finish(request, await pending.ConfigureAwait(false));

    private Cp2Outcome<DecideResponse> Finish(PipelineRequest request, DecideResult result)
    {
        if (result.Error is { } error)
        {
            return new(null, error);
        }
        // The decision is the answer: nothing is pushed or kept, so the admission slots go back now.
        result.Lease!.Dispose();
        var extra = WithExtensionMetadata(request);
        // Kept for GetDecision (and CP1's get_decision), as CP1 decides are.
        decisions.Add(request.Caller.TenantId, request.RequestId, request.RequestId, request.TraceId, result.Decision, extra);
        return new(ToResponse(result.Decision, request.RequestId, request.TraceId, extra), null);
    }

    /// <summary>
    /// The decision stored for <paramref name="request"/>'s message id and <paramref name="caller"/>'s tenant,
    /// as its decide answered it; <c>not_found</c> when none is (another tenant's is none).
    /// </summary>
    public Cp2Outcome<DecideResponse> GetDecision(Cp2.GetDecisionRequest request, Caller caller)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(caller);
        if (request.MessageId.Length == 0)
        {
            return new(null, new Cp1Error(Cp1ErrorCodes.InvalidRequest, "missing required field: message_id", "message_id", Cp1ErrorTypes.RequiredFieldMissing));
        }
        if (!decisions.TryGet(caller.TenantId, request.MessageId, out var stored))
        {
            return new(null, new Cp1Error(Cp1ErrorCodes.NotFound, $"no decision is stored for message_id '{request.MessageId}'", "message_id",
                Cp1ErrorTypes.InvalidValue));
        }
        return new(ToResponse(stored.Decision, stored.RequestId, stored.TraceId, stored.ExtraMetadata), null);
    }

    // instance_id, and what extensions said about the request (warnings, skipped optional steps).
    private KeyValuePair<string, string>[] WithExtensionMetadata(PipelineRequest request)
    {
        List<KeyValuePair<string, string>>? added = null;
        foreach (var key in ExtensionMetadata)
        {
            if (request.Metadata.TryGetValue(key, out var value))
            {
                (added ??= [.. _instanceOnly]).Add(new(key, value));
            }
        }
        return added is null ? _instanceOnly : [.. added];
    }

    private DecideResponse ToResponse(in RouteDecision decision, string requestId, string? traceId, KeyValuePair<string, string>[] extra)
    {
        var response = new DecideResponse
        {
            ProviderId = decision.ProviderId,
            Priority = decision.Priority,
            ExpectedLatencyMs = Math.Round(decision.ExpectedLatencyMs),
            ExpectedCostUsd = Math.Round(decision.ExpectedCost, 9),
            ExpectedCostNanos = ToNanos(decision.ExpectedCost),
            Reason = decision.Reason ?? string.Empty,
            PolicyId = decision.PolicyId ?? string.Empty,
            RequestId = requestId,
            TraceId = traceId ?? string.Empty,
        };
        foreach (var (key, value) in decision.Metadata)
        {
            response.Metadata[key] = value;
        }
        foreach (var (key, value) in extra)
        {
            response.Metadata[key] = value;
        }
        if (decision.Fallbacks is { } plan)
        {
            response.Fallbacks.Add(_fallbacks.GetValue(plan, ToFallbacks));
        }
        return response;
    }

    // A policy's fallback rules, converted once per plan (a plan lives as long as its policy
    // version); the messages are only read from then on, so every response may share them.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Beamline.Routing.Fallbacks.FallbackPlan, Fallback[]> _fallbacks = new();

    private static Fallback[] ToFallbacks(Beamline.Routing.Fallbacks.FallbackPlan plan)
    {
        var fallbacks = new Fallback[plan.Rules.Length];
        for (var i = 0; i < fallbacks.Length; i++)
        {
            var rule = plan.Rules[i];
            fallbacks[i] = new Fallback { ProviderId = rule.To, Retry = rule.Retry };
            fallbacks[i].When.Add(Names(rule.When));
            fallbacks[i].MessageTypes.Add(rule.MessageTypes);
        }
        return fallbacks;
    }

    // The CP1 names of the failures a rule handles, one per flag (FailureKindNames.Format says "any failure" for all).
    private static readonly (FailureKinds Flag, string Name)[] FailureNames =
    [
        (FailureKinds.Timeout, "timeout"), (FailureKinds.ServerError, "5xx"), (FailureKinds.ServiceUnavailable, "503"),
        (FailureKinds.RateLimited, "rate_limited"), (FailureKinds.CircuitBreakerOpen, "circuit_breaker_open"),
        (FailureKinds.AllProvidersFailed, "all_providers_failed"),
    ];

    private static List<string> Names(FailureKinds kinds)
    {
        var names = new List<string>(FailureNames.Length);
        foreach (var (flag, name) in FailureNames)
        {
            if ((kinds & flag) != 0)
            {
                names.Add(name);
            }
        }
        return names;
    }

    /// <summary>
    /// Executes: the answer's chunks go to <paramref name="send"/> as they come (when
    /// <c>stream.enabled</c>), then the outcome is returned: the result to send last, or the error.
    /// Only the caller's own cancellation escapes, as <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<Cp2Outcome<ExecuteEvent>> ExecuteAsync(DecideRequest request, Caller caller, string face, TimeSpan? timeout,
        Func<ExecuteEvent, CancellationToken, Task> send, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(send);
        var streamed = request.Stream?.Enabled == true;
        var pipelineRequest = Cp2Requests.From(request, caller, face, timeout, streamed, out var invalid);
        if (pipelineRequest is null)
        {
            return new(null, invalid);
        }
        if (!streamed)
        {
            return End(pipelineRequest, await pipeline.ExecuteAsync(pipelineRequest, cancellationToken).ConfigureAwait(false));
        }
        ulong seq = 0;
        IStreamTextSession? text = null;
        var textRead = false;
        await foreach (var item in pipeline.ExecuteStreamAsync(pipelineRequest, cancellationToken).ConfigureAwait(false))
        {
            if (item.Result is { } result)
            {
                // What the provider's format held back until the end (an event split at the last chunk).
                if (text?.Complete() is { Count: > 0 } tail && Text(tail) is { Length: > 0 } rest)
                {
                    await send(new ExecuteEvent { Chunk = new Chunk { Seq = seq++, Text = rest } }, cancellationToken).ConfigureAwait(false);
                }
                return End(pipelineRequest, result);
            }
            if (!textRead)
            {
                textRead = true;
                text = BeginText(item.Format);
            }
            var chunk = new Chunk { Seq = seq++, Data = ByteString.CopyFrom(item.Chunk.Span) };
            if (text is not null)
            {
                chunk.Text = Text(text.Push(item.Chunk.Span));
            }
            await send(new ExecuteEvent { Chunk = chunk }, cancellationToken).ConfigureAwait(false);
        }
        return new(null, new Cp1Error(Cp1ErrorCodes.Internal, "the stream ended without a result"));
    }

    private IStreamTextSession? BeginText(Beamline.Pipeline.WireFormat format)
    {
        foreach (var codec in _textCodecs)
        {
            if (codec.Begin(format) is { } session)
            {
                return session;
            }
        }
        return null;
    }

    private static string Text(IReadOnlyList<StreamTextEvent> events)
    {
        if (events.Count == 1)
        {
            return events[0].Text ?? string.Empty;
        }
        var text = new System.Text.StringBuilder();
        foreach (var e in events)
        {
            text.Append(e.Text);
        }
        return text.ToString();
    }

    private static Cp2Outcome<ExecuteEvent> End(PipelineRequest request, Pipeline.ExecuteResult result)
    {
        var answer = ToResult(request, result);
        if (result.Error is not { } error)
        {
            return new(new ExecuteEvent { Result = answer }, null);
        }
        // A provider's Retry-After on a rate limit is the caller's to wait, as over CP1.
        if (error.Code == Cp1ErrorCodes.QuotaExceeded && error.RetryAfterSeconds is null && result.LastAnswer is { RetryAfterSeconds: > 0 } last)
        {
            error = error with { RetryAfterSeconds = last.RetryAfterSeconds };
        }
        return new(null, error, result.Attempts.Count == 0 ? null : answer);
    }

    // An expected cost is a double estimate; one beyond what nano-dollars hold is no estimate at all.
    private static long ToNanos(double usd) => double.IsFinite(usd) && usd is >= 0 and < 1e9 ? Nanos.FromUsd((decimal)usd) : 0;

    private static Cp2.ExecuteResult ToResult(PipelineRequest request, Pipeline.ExecuteResult result)
    {
        var answer = new Cp2.ExecuteResult
        {
            PolicyId = result.PolicyId ?? string.Empty,
            ProviderId = result.ProviderId ?? string.Empty,
            RequestId = request.RequestId,
            TraceId = request.TraceId ?? string.Empty,
            CostNanos = result.CostNanos,
            CostUsd = (double)Nanos.ToUsd(result.CostNanos),
            Model = result.Model ?? string.Empty,
            StopReason = result.StopReason ?? string.Empty,
        };
        if (result.IsSuccess)
        {
            answer.Output = ByteString.CopyFrom(result.Output.Span);
        }
        if (result.Usage is { } usage)
        {
            answer.Usage = new Beamline.Cp2.Usage
            {
                InputTokens = usage.InputTokens,
                OutputTokens = usage.OutputTokens,
                CachedInputTokens = usage.CachedInputTokens,
                Estimated = usage.Estimated,
            };
        }
        if (result.Attempts.Count > 0)
        {
            var last = result.Attempts[^1];
            answer.Status = last.Answer.Status;
            answer.HttpStatus = last.Answer.HttpStatus;
            answer.LatencyUs = last.LatencyUs;
        }
        answer.Status = result.IsSuccess ? "ok" : answer.Status.Length == 0 ? "error" : answer.Status;
        foreach (var attempt in result.Attempts)
        {
            answer.Attempts.Add(new Attempt
            {
                ProviderId = attempt.ProviderId,
                Reason = attempt.Reason,
                Status = attempt.Answer.Succeeded ? "ok" : attempt.Answer.Status,
                ErrorCode = attempt.Answer.ErrorCode ?? string.Empty,
                Message = attempt.Answer.Message ?? string.Empty,
                HttpStatus = attempt.Answer.HttpStatus,
                LatencyUs = attempt.LatencyUs,
            });
        }
        return answer;
    }
}
