using System.Diagnostics;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Providers;
using Beamline.Pipeline.Routing;
using Beamline.Pipeline.Telemetry;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Fallbacks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Pipeline;

/// <summary>
/// The path of every request, whatever face took it: admit (quotas) → pre → validators → route →
/// the provider with retries, fallbacks and breakers → post → account → respond. Decide stops
/// after route; execute goes on, answering whole (<see cref="ExecuteAsync"/>) or as a stream
/// (<see cref="ExecuteStreamAsync"/>). Every request runs under one deadline; the caller's
/// token going away cancels the provider call and gives back what admission reserved.
/// Every stage reports to the activity stream.
/// </summary>
public sealed partial class RequestPipeline
{
    private readonly IPolicyRouter _routing;
    private readonly IAdmission _admission;
    private readonly ExtensionRunner _extensions;
    private readonly IProviderClient[] _providers;
    private readonly IActivitySink _activity;
    private readonly PipelineOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RequestPipeline> _logger;
    private readonly IStreamTextCodec[] _textCodecs;
    private readonly PipelineMetrics? _metrics;
    private readonly ICostMeter? _costs;
    private readonly IBudgets _budgets;
    private readonly IRequestAccounting[] _accounting;

    /// <summary>
    /// Creates the pipeline over its ports. <paramref name="textCodecs"/> read the text of provider
    /// streams for post extensions (the first that reads a stream's format is used); without one,
    /// post extensions see a stream's chunks as raw text. Without <paramref name="metrics"/> it records none.
    /// Without <paramref name="costs"/> nothing is priced, metered or reserved; without <paramref name="budgets"/>
    /// nothing is limited; every one of <paramref name="accounting"/> (the usage ledger, the audit chain, …) is told of every finished request.
    /// </summary>
    public RequestPipeline(IPolicyRouter routing, IAdmission admission, ExtensionRunner extensions, IEnumerable<IProviderClient> providers,
        IActivitySink activity, IOptions<PipelineOptions> options, TimeProvider time, ILogger<RequestPipeline> logger,
        IEnumerable<IStreamTextCodec>? textCodecs = null, PipelineMetrics? metrics = null,
        ICostMeter? costs = null, IBudgets? budgets = null, IEnumerable<IRequestAccounting>? accounting = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _routing = routing;
        _admission = admission;
        _extensions = extensions;
        _providers = [.. providers];
        _activity = activity;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _textCodecs = textCodecs is null ? [] : [.. textCodecs];
        _metrics = metrics;
        _costs = costs;
        _budgets = budgets ?? UnlimitedBudgets.Instance;
        _accounting = accounting is null ? [] : [.. accounting];
    }

    /// <summary>The router this pipeline decides with.</summary>
    public IPolicyRouter Routing => _routing;

    /// <summary>The extension runner (its health feeds the admin views).</summary>
    public ExtensionRunner Extensions => _extensions;

    /// <summary>
    /// Admit → pre → validators → route. Completes synchronously when the policy has no pre or
    /// validator steps (the common case: no allocation for a task, no thread hop). On success the
    /// result carries the admission lease, which the caller now owns.
    /// </summary>
    public ValueTask<DecideResult> DecideAsync(PipelineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Emit(request, ActivityKinds.Received, stage: request.Face);
        if (Deny(request) is { } denied)
        {
            return new(Final(request, new DecideResult { Error = denied }));
        }
        var lease = Admit(request);
        if (!lease.IsAdmitted)
        {
            return new(Refused(request, lease));
        }
        if (CheckBudget(request) is { } overBudget)
        {
            lease.Dispose();
            return new(Final(request, new DecideResult { Error = overBudget }));
        }
        if (!_routing.TryGetPolicy(request.TenantId, request.PolicyId, out var policy) || (policy.Pre.IsEmpty && policy.Validators.IsEmpty))
        {
            return new(Route(request, policy, lease));
        }
        return DecideWithExtensionsAsync(request, policy, lease, cancellationToken);
    }

    private async ValueTask<DecideResult> DecideWithExtensionsAsync(PipelineRequest request, Policy policy, AdmissionLease lease,
        CancellationToken cancellationToken)
    {
        using var scope = _logger.BeginScope(new RequestLogScope(request));
        try
        {
            using var deadline = StartDeadline(request, cancellationToken);
            var refused = await RunRequestExtensionsAsync(request, policy, deadline.Token).ConfigureAwait(false);
            if (refused is not null)
            {
                lease.Dispose();
                return Final(request, new DecideResult { Error = refused });
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            lease.Dispose();
            return Final(request, new DecideResult { Error = DeadlineError(request, "the extensions") });
        }
        catch
        {
            lease.Dispose();
            throw;
        }
        return Route(request, policy, lease);
    }

    private DecideResult Route(PipelineRequest request, Policy? policy, AdmissionLease lease)
    {
        CountPromptForRouting(request, policy);
        var decision = Decide(request, request.ToRouteRequest());
        EmitDecision(request, decision);
        if (!decision.IsSuccess)
        {
            lease.Dispose();
            return Final(request, new DecideResult { Error = DecisionError(decision), Decision = decision });
        }
        return Final(request, new DecideResult { Decision = decision, Lease = lease });
    }

    private DecideResult Refused(PipelineRequest request, AdmissionLease lease)
        => Final(request, new DecideResult { Error = QuotaError(lease) });

    /// <summary>
    /// Admit → pre → validators → route → provider (retries, fallbacks, breakers) → post → account.
    /// Failures are results; only the caller's own cancellation escapes (as <see cref="OperationCanceledException"/>).
    /// </summary>
    public async Task<ExecuteResult> ExecuteAsync(PipelineRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = _logger.BeginScope(new RequestLogScope(request));
        using var span = PipelineTracing.StartRequest("beamline.execute", request);
        Emit(request, ActivityKinds.Received, stage: request.Face);
        if (Deny(request) is { } denied)
        {
            return Final(request, new ExecuteResult { Error = denied });
        }
        using var lease = Admit(request);
        if (!lease.IsAdmitted)
        {
            return Final(request, new ExecuteResult { Error = QuotaError(lease) });
        }
        using var deadline = StartDeadline(request, cancellationToken);
        var attempts = new List<ProviderAttempt>(4);
        try
        {
            var policy = _routing.TryGetPolicy(request.TenantId, request.PolicyId, out var found) ? found : null;
            if (policy is not null && await RunRequestExtensionsAsync(request, policy, deadline.Token).ConfigureAwait(false) is { } refused)
            {
                return Final(request, new ExecuteResult { Error = refused, PolicyId = policy.Id });
            }
            var call = await CallProvidersAsync(request, policy, attempts, deadline, cancellationToken).ConfigureAwait(false);
            if (call.Error is not null)
            {
                return Final(request, new ExecuteResult { Error = call.Error, PolicyId = call.PolicyId, Attempts = attempts });
            }
            var output = attempts[^1].Answer.Output;
            PayloadKind? kind = null; // read from the bytes only when post extensions need it
            if (policy is not null && !policy.Post.IsEmpty)
            {
                var post = await _extensions.RunPostAsync(request, policy.Post, output, PayloadKinds.Detect(output.Span), deadline.Token).ConfigureAwait(false);
                if (post.Error is not null)
                {
                    return Final(request, new ExecuteResult { Error = post.Error, PolicyId = call.PolicyId, Attempts = attempts });
                }
                (output, kind) = (post.Answer, post.Kind);
            }
            return Final(request, new ExecuteResult
            {
                PolicyId = call.PolicyId,
                ProviderId = attempts[^1].ProviderId,
                Attempts = attempts,
                Output = output,
                KnownOutputKind = kind,
                Model = call.Spent.Model,
                Usage = call.Spent.Usage,
                CostNanos = call.Spent.CostNanos,
            });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            return Final(request, new ExecuteResult { Error = DeadlineError(request, "the request"), Attempts = attempts });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Nobody is left to answer, but a provider may have been called (and charged): account for it.
            Abandoned(request, attempts);
            throw;
        }
    }

    /// <summary>
    /// A key limited to some policies (<c>allowed_policies</c>) asking for another one is
    /// authenticated but not allowed: <c>denied</c> (403), before any quota is taken.
    /// </summary>
    private Cp1Error? Deny(PipelineRequest request)
    {
        if (request.Caller.AllowedPolicies is not { } allowed)
        {
            return null;
        }
        var policyId = _routing.EffectivePolicyId(request.TenantId, request.PolicyId);
        return allowed.Contains(policyId)
            ? null
            : new Cp1Error(Cp1ErrorCodes.Denied, $"the API key may not use policy '{policyId}'", "policy_id", Cp1ErrorTypes.InvalidValue);
    }

    /// <summary>Pre, then validators; the error that ends the request, or null.</summary>
    private async ValueTask<Cp1Error?> RunRequestExtensionsAsync(PipelineRequest request, Policy policy, CancellationToken cancellationToken)
    {
        if (!policy.Pre.IsEmpty && await _extensions.RunPreAsync(request, policy.Pre, cancellationToken).ConfigureAwait(false) is { } preError)
        {
            return preError;
        }
        if (!policy.Validators.IsEmpty && await _extensions.RunValidatorsAsync(request, policy.Validators, cancellationToken).ConfigureAwait(false) is { } blocked)
        {
            return blocked;
        }
        return null;
    }

    /// <summary>The outcome of walking the fallback plan: an error, or the succeeding attempt last in the list.</summary>
    private readonly record struct CallResult(Cp1Error? Error, string? PolicyId, Spent Spent = default);

    /// <summary>
    /// Routes and calls providers until one answers or the plan is exhausted. Every outcome is fed
    /// back to the router, so its statistics and circuit breakers learn from real traffic.
    /// </summary>
    private async Task<CallResult> CallProvidersAsync(PipelineRequest request, Policy? policy, List<ProviderAttempt> attempts, CancellationTokenSource deadline,
        CancellationToken callerToken)
    {
        CountPromptForRouting(request, policy);
        var route = request.ToRouteRequest();
        var decision = Decide(request, route);
        EmitDecision(request, decision);
        if (!decision.IsSuccess)
        {
            return new CallResult(DecisionError(decision), decision.PolicyId);
        }
        var cursor = default(FallbackCursor);
        while (true)
        {
            var providerId = decision.ProviderId!;
            var prepared = Prepare(request, decision, attempts);
            if (prepared.Refusal is not null)
            {
                return new CallResult(prepared.Refusal, decision.PolicyId);
            }
            if (prepared.Call is { } call)
            {
                using var attemptSpan = PipelineTracing.StartProviderAttempt(request, decision.PolicyId, providerId, decision.Reason);
                var started = Stopwatch.GetTimestamp();
                ProviderAnswer answer;
                try
                {
                    answer = await prepared.Client!.CallAsync(call, deadline.Token).ConfigureAwait(false);
                }
                catch
                {
                    // Every decision may hold a half-open trial slot: a call that records no outcome frees it.
                    _routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                    Release(prepared.Charge);
                    throw;
                }
                // Settled before the outcome is recorded: recording rethrows a cancellation, and a call that answered was made.
                var spent = answer.Succeeded ? Settle(prepared.Charge, request, answer) : default;
                if (!answer.Succeeded)
                {
                    Release(prepared.Charge);
                }
                PipelineTracing.SetOutcome(attemptSpan, answer);
                Record(request, decision, answer, Stopwatch.GetElapsedTime(started), attempts, callerToken, deadline.Token, spent);
                if (answer.Succeeded)
                {
                    return new CallResult(null, decision.PolicyId, spent);
                }
                if (answer.Failure == FailureKinds.None)
                {
                    return new CallResult(NoFallbackError(providerId, answer), decision.PolicyId);
                }
            }
            var next = _routing.DecideFallback(route, ref cursor, providerId, attempts[^1].Answer.Failure);
            if (!next.IsSuccess)
            {
                return new CallResult(ExhaustedError(next, attempts[^1].Answer), decision.PolicyId);
            }
            EmitDecision(request, next);
            decision = next;
        }
    }

    /// <summary>One attempt made ready: the client and call, or a refusal (the request is at fault), or neither (the attempt already failed and is in the list).</summary>
    private readonly record struct PreparedCall(IProviderClient? Client, ProviderCall? Call, Cp1Error? Refusal, Charge Charge = default);

    private PreparedCall Prepare(PipelineRequest request, in RouteDecision decision, List<ProviderAttempt> attempts)
    {
        var providerId = decision.ProviderId!;
        ProviderAnswer failed;
        if (!_routing.TryGetProvider(providerId, out var provider))
        {
            failed = ProviderAnswer.Unsupported($"provider '{providerId}' is named by the policy but has no provider entry");
        }
        else if (ClientFor(provider.Kind) is not { } client)
        {
            failed = ProviderAnswer.Unsupported($"provider '{providerId}': kind {provider.Kind} has no provider client");
        }
        else
        {
            var call = new ProviderCall { Provider = provider, Request = request, Timeout = Remaining(request) };
            if (client.Refuse(call) is { } refused)
            {
                // The request is at fault, not the provider: no call, no outcome, no fallback.
                _routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                return new PreparedCall(null, null, new Cp1Error(Cp1ErrorCodes.InvalidRequest, refused, "payload.model", Cp1ErrorTypes.InvalidValue));
            }
            var charge = Reserve(request, provider, out var overBudget);
            if (overBudget is not null)
            {
                // Over budget is the caller's state, not the provider's: no call, no outcome, no fallback.
                _routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                return new PreparedCall(null, null, overBudget);
            }
            return new PreparedCall(client, call, null, charge);
        }
        // A provider that cannot be called is a failure of that provider: its breaker learns, the plan goes on.
        attempts.Add(new ProviderAttempt(providerId, decision.Reason, failed, 0));
        _routing.RecordOutcome(Outcome(request, decision, providerId, failed, TimeSpan.Zero));
        EmitAttempt(request, providerId, failed, TimeSpan.Zero);
        return default;
    }

    /// <summary>
    /// Adds an attempt and feeds its outcome to the router. A cancelled call says nothing about the
    /// provider: its trial slot goes back, and the cancellation (the caller's, or the deadline's) is rethrown.
    /// </summary>
    private void Record(PipelineRequest request, in RouteDecision decision, in ProviderAnswer answer, TimeSpan latency, List<ProviderAttempt> attempts,
        CancellationToken callerToken, CancellationToken deadlineToken, in Spent spent = default)
    {
        var providerId = decision.ProviderId!;
        attempts.Add(new ProviderAttempt(providerId, decision.Reason, answer, (long)latency.TotalMicroseconds)
        {
            Usage = spent.Usage,
            CostNanos = spent.CostNanos,
            Model = spent.Model,
        });
        EmitAttempt(request, providerId, answer, latency);
        if (answer.ErrorCode == ProviderAnswer.Cancelled)
        {
            _routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
            callerToken.ThrowIfCancellationRequested();
            deadlineToken.ThrowIfCancellationRequested();
        }
        else
        {
            // A 4xx answer (Failure None) says the provider is up: it counts as a success.
            _routing.RecordOutcome(Outcome(request, decision, providerId, answer, latency));
        }
        // Nobody is left to answer (the client went away) or the control plane is stopping: the
        // caller's face decides what that means; it is not a failed request.
        callerToken.ThrowIfCancellationRequested();
    }

    private IProviderClient? ClientFor(Beamline.Routing.Catalog.ProviderKind kind)
    {
        foreach (var client in _providers)
        {
            if (client.Serves(kind))
            {
                return client;
            }
        }
        return null;
    }

    private static RouteOutcome Outcome(PipelineRequest request, in RouteDecision decision, string providerId, in ProviderAnswer answer, TimeSpan latency)
        => new()
        {
            TenantId = request.TenantId,
            PolicyId = decision.PolicyId,
            ProviderId = providerId,
            Failure = answer.Succeeded ? FailureKinds.None : answer.Failure,
            LatencyMs = latency.TotalMilliseconds,
        };

    /// <summary>The request's deadline: the face's timeout (capped) or the default, linked to the caller's token.</summary>
    private CancellationTokenSource StartDeadline(PipelineRequest request, CancellationToken cancellationToken)
    {
        var timeout = request.Timeout is { } asked && asked > TimeSpan.Zero
            ? (asked < _options.MaxTimeout ? asked : _options.MaxTimeout)
            : _options.DefaultTimeout;
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(timeout);
        request.DeadlineAt = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        return source;
    }

    /// <summary>What is left of the request's deadline (at least 1 ms, so that a call is always bounded).</summary>
    private TimeSpan Remaining(PipelineRequest request)
    {
        var left = TimeSpan.FromSeconds((double)(request.DeadlineAt - _time.GetTimestamp()) / _time.TimestampFrequency);
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }
}
