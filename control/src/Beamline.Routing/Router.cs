using System.Collections.Frozen;
using System.Globalization;
using Beamline.Policies;
using Beamline.Routing.Bandits;
using Beamline.Routing.Breakers;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Beamline.Routing.Internal;
using Beamline.Routing.Sticky;

namespace Beamline.Routing;

/// <summary>
/// The in-process router. Policies are compiled against the catalog when they are set; a
/// decision reads an immutable snapshot (swapped atomically by <see cref="UpdatePolicies"/>),
/// walks small arrays and returns a struct: no locks, no LINQ, no allocation on the common
/// path (a new sticky session stores one entry; a breaker not in the closed state takes its own lock).
/// </summary>
public sealed partial class Router : IRouter
{
    private readonly ProviderCatalog _catalog;
    private readonly TimeProvider _time;
    private readonly IRandomSource _random;
    private readonly CircuitBreakerRegistry _breakers;
    private readonly StickySessionStore _sticky;
    private readonly string _defaultPolicyId;
    private readonly int _defaultInputTokens;
    private readonly int _defaultOutputTokens;
    private readonly int _stepBudget;
    private readonly IBanditSelector _bandits;
    private FrozenDictionary<string, CompiledPolicy> _policies;

    /// <summary>Creates a router.</summary>
    /// <param name="catalog">The providers.</param>
    /// <param name="policies">The policies.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="time">The clock (tests pass a fake one). Defaults to <see cref="TimeProvider.System"/>.</param>
    /// <param name="random">The weighted strategy's random source. Defaults to <see cref="RandomSource.Shared"/>.</param>
    /// <param name="bandits">Picks the arm of a language policy's <c>bandit(...)</c>. Defaults to <see cref="UniformBanditSelector"/> over <paramref name="random"/>.</param>
    public Router(ProviderCatalog catalog, PolicySet policies, RouterOptions? options = null, TimeProvider? time = null, IRandomSource? random = null,
        IBanditSelector? bandits = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(policies);
        options ??= new RouterOptions();
        var validation = new RouterOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }
        _catalog = catalog;
        _time = time ?? TimeProvider.System;
        _random = random ?? RandomSource.Shared;
        _breakers = new CircuitBreakerRegistry(_time);
        _sticky = new StickySessionStore(options.StickyCapacity);
        _defaultPolicyId = options.DefaultPolicyId;
        _defaultInputTokens = options.DefaultInputTokens;
        _defaultOutputTokens = options.DefaultOutputTokens;
        _stepBudget = options.PolicyStepBudget;
        _bandits = bandits ?? new UniformBanditSelector(_random);
        _policies = Compile(policies);
    }

    /// <summary>The provider catalog and its live statistics.</summary>
    public ProviderCatalog Catalog => _catalog;

    /// <summary>The sticky sessions.</summary>
    public StickySessionStore Sessions => _sticky;

    /// <summary>The circuit breakers.</summary>
    public CircuitBreakerRegistry Breakers => _breakers;

    /// <summary>Replaces the policies; decisions in flight finish on the old snapshot. Breakers are reset.</summary>
    public void UpdatePolicies(PolicySet policies)
    {
        ArgumentNullException.ThrowIfNull(policies);
        Volatile.Write(ref _policies, Compile(policies));
        _breakers.Clear();
    }

    /// <inheritdoc />
    public RouteDecision Decide(in RouteRequest request)
    {
        var policyId = request.PolicyId ?? _defaultPolicyId;
        if (!Volatile.Read(ref _policies).TryGetValue(policyId, out var policy))
        {
            return RouteDecision.Failure(RouteErrorCodes.PolicyNotFound, $"policy not found: {policyId}", policyId);
        }
        if (policy.Program is not null && !TryRunProgram(ref policy, request, out var failed))
        {
            return failed;
        }
        var tenant = request.TenantId ?? string.Empty;
        var inputTokens = request.InputTokens > 0 ? request.InputTokens : _defaultInputTokens;
        var outputTokens = request.OutputTokens > 0 ? request.OutputTokens : _defaultOutputTokens;
        var now = _time.GetTimestamp();

        if (request.PinnedProvider is { } pinned)
        {
            return DecidePinned(policy, tenant, pinned, request, inputTokens, outputTokens);
        }

        string? session = null;
        if (policy.Sticky is { } sticky)
        {
            session = request.GetContextValue(sticky.SessionKey);
            if (string.IsNullOrEmpty(session))
            {
                session = null;
            }
            else if (_sticky.TryGet(new StickyKey(tenant, policy.Id, session), now, out var stuckId)
                && policy.Find(stuckId) is { } stuck
                && Meets(stuck, request, inputTokens, outputTokens)
                && Acquire(policy, tenant, stuck, request.DryRun))
            {
                return Make(stuck, RouteReasons.Sticky, policy, policy.StickyMetadata, inputTokens, outputTokens);
            }
        }

        var slots = policy.Slots;
        Span<bool> eligible = slots.Length <= 64 ? stackalloc bool[slots.Length] : new bool[slots.Length];
        var count = 0;
        for (var i = 0; i < slots.Length; i++)
        {
            eligible[i] = slots[i].Share > 0 && Meets(slots[i].Entry, request, inputTokens, outputTokens);
            if (eligible[i])
            {
                count++;
            }
        }
        if (count == 0)
        {
            return RouteDecision.Failure(RouteErrorCodes.DecisionFailed, NoneMeetMessage(request), policy.Id);
        }

        var pick = Select(policy, eligible, inputTokens, outputTokens, request);
        var chosen = slots[pick].Entry;
        if (policy.Breaker is not null && !Acquire(policy, tenant, chosen, request.DryRun))
        {
            // The pick's breaker is open: a circuit_breaker_open rule decides, else another candidate, else all_providers_failed.
            var rule = policy.Plan.FindImmediate(FailureKinds.CircuitBreakerOpen, request.MessageType);
            if (rule >= 0 && !ReferenceEquals(policy.FallbackTargets[rule], chosen) && IsAllowed(policy.FallbackTargets[rule], request)
                && Acquire(policy, tenant, policy.FallbackTargets[rule], request.DryRun))
            {
                return Make(policy.FallbackTargets[rule], RouteReasons.Fallback, policy, policy.FallbackMetadata, inputTokens, outputTokens);
            }
            eligible[pick] = false;
            count = 0;
            for (var i = 0; i < slots.Length; i++)
            {
                if (eligible[i] && !Permitted(policy, tenant, slots[i].Entry))
                {
                    eligible[i] = false;
                }
                count += eligible[i] ? 1 : 0;
            }
            if (count > 0)
            {
                pick = Select(policy, eligible, inputTokens, outputTokens, request);
                chosen = slots[pick].Entry;
            }
            if (count == 0 || !Acquire(policy, tenant, chosen, request.DryRun))
            {
                rule = policy.Plan.FindImmediate(FailureKinds.AllProvidersFailed, request.MessageType);
                if (rule >= 0 && IsAllowed(policy.FallbackTargets[rule], request) && Acquire(policy, tenant, policy.FallbackTargets[rule], request.DryRun))
                {
                    return Make(policy.FallbackTargets[rule], RouteReasons.Fallback, policy, policy.FallbackMetadata, inputTokens, outputTokens);
                }
                return RouteDecision.Failure(RouteErrorCodes.DecisionFailed,
                    "all_providers_failed: every candidate provider's circuit breaker is open", policy.Id);
            }
        }
        if (session is not null && !request.DryRun)
        {
            _sticky.Set(new StickyKey(tenant, policy.Id, session), chosen.Id, now + policy.StickyTtlTicks, now);
        }
        return Make(chosen, policy.Reason, policy, policy.PrimaryMetadata, inputTokens, outputTokens);
    }

    /// <inheritdoc />
    public RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure)
    {
        ArgumentNullException.ThrowIfNull(failedProvider);
        var policyId = request.PolicyId ?? _defaultPolicyId;
        if (!Volatile.Read(ref _policies).TryGetValue(policyId, out var policy))
        {
            return RouteDecision.Failure(RouteErrorCodes.PolicyNotFound, $"policy not found: {policyId}", policyId);
        }
        if (policy.Program is not null && !TryRunProgram(ref policy, request, out var failed))
        {
            return failed;
        }
        var tenant = request.TenantId ?? string.Empty;
        var inputTokens = request.InputTokens > 0 ? request.InputTokens : _defaultInputTokens;
        var outputTokens = request.OutputTokens > 0 ? request.OutputTokens : _defaultOutputTokens;
        var current = failedProvider;
        // Every rule is spent at most once, so this loop ends; the bound is a guard.
        for (var guard = 0; guard < 2 * (policy.Plan.Rules.Length + 1) + 1; guard++)
        {
            var step = policy.Plan.Next(ref cursor, current, failure, request.MessageType);
            if (step.Action == FallbackAction.GiveUp)
            {
                break;
            }
            var entry = _catalog.GetOrAdd(step.ProviderId!);
            // A fallback target outside the caller's allow-list is passed over like one whose breaker is open.
            if (IsAllowed(entry, request) && Acquire(policy, tenant, entry))
            {
                return Make(entry, step.Action == FallbackAction.Retry ? RouteReasons.Retry : RouteReasons.Fallback,
                    policy, policy.FallbackMetadata, inputTokens, outputTokens);
            }
            if (step.Action == FallbackAction.Retry)
            {
                // The provider's breaker opened meanwhile: its retries are pointless, go on to the rule's target.
                FallbackPlan.SkipRetries(ref cursor, policy.Plan.Rules[step.RuleIndex].Retry);
            }
            else
            {
                current = step.ProviderId!;
                failure = FailureKinds.CircuitBreakerOpen;
            }
        }
        return RouteDecision.Failure(RouteErrorCodes.DecisionFailed,
            string.Create(CultureInfo.InvariantCulture, $"all_providers_failed after {cursor.Failures} failed attempt(s)"), policy.Id);
    }

    /// <inheritdoc />
    public void RecordOutcome(in RouteOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome.ProviderId);
        if ((outcome.Failure & (FailureKinds.CircuitBreakerOpen | FailureKinds.AllProvidersFailed)) != 0
            && (outcome.Failure & ~(FailureKinds.CircuitBreakerOpen | FailureKinds.AllProvidersFailed)) == 0)
        {
            return; // No call was made.
        }
        _catalog.GetOrAdd(outcome.ProviderId).Stats.Record(outcome.Succeeded, outcome.LatencyMs);
        var policyId = outcome.PolicyId ?? _defaultPolicyId;
        if (!Volatile.Read(ref _policies).TryGetValue(policyId, out var policy) || policy.Breaker is null)
        {
            return;
        }
        var key = new BreakerKey(outcome.TenantId ?? string.Empty, policy.Id, outcome.ProviderId);
        if (outcome.Succeeded)
        {
            if (_breakers.TryGet(key, out var breaker))
            {
                breaker.OnSuccess();
            }
        }
        else
        {
            _breakers.GetOrAdd(key, policy.Breaker).OnFailure();
        }
    }

    /// <inheritdoc />
    public void ReleaseTrial(string tenantId, string? policyId, string providerId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(providerId);
        if (_breakers.TryGet(new BreakerKey(tenantId, policyId ?? _defaultPolicyId, providerId), out var breaker))
        {
            breaker.ReleaseTrial();
        }
    }

    /// <inheritdoc />
    public CircuitState GetBreakerState(string tenantId, string? policyId, string providerId) =>
        _breakers.GetState(new BreakerKey(tenantId, policyId ?? _defaultPolicyId, providerId));

    private FrozenDictionary<string, CompiledPolicy> Compile(PolicySet policies)
    {
        var compiled = new Dictionary<string, CompiledPolicy>(StringComparer.Ordinal);
        foreach (var policy in policies.Policies)
        {
            compiled[policy.Id] = policies.TryGetProgram(policy.Id, out var program)
                ? CompileProgram(policy, program)
                : new CompiledPolicy(policy, _catalog, _time);
        }
        return compiled.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private int Select(CompiledPolicy policy, ReadOnlySpan<bool> eligible, int inputTokens, int outputTokens, in RouteRequest request)
    {
        if (policy.Bandit is not null)
        {
            return SelectBandit(policy, eligible, request);
        }
        var slots = policy.Slots;
        var best = -1;
        switch (policy.Strategy)
        {
            case RoutingStrategy.Weighted:
                var total = 0.0;
                for (var i = 0; i < slots.Length; i++)
                {
                    if (eligible[i])
                    {
                        total += slots[i].Share;
                        best = i;
                    }
                }
                var r = _random.NextDouble() * total;
                for (var i = 0; i < slots.Length; i++)
                {
                    if (eligible[i])
                    {
                        r -= slots[i].Share;
                        if (r < 0)
                        {
                            return i;
                        }
                    }
                }
                return best;
            case RoutingStrategy.Cheapest:
                var lowestCost = double.MaxValue;
                for (var i = 0; i < slots.Length; i++)
                {
                    var cost = slots[i].Entry.Descriptor.ExpectedCost(inputTokens, outputTokens);
                    if (eligible[i] && cost < lowestCost)
                    {
                        (best, lowestCost) = (i, cost);
                    }
                }
                return best;
            case RoutingStrategy.Fastest:
                var lowestLatency = double.MaxValue;
                for (var i = 0; i < slots.Length; i++)
                {
                    var latency = slots[i].Entry.Stats.LatencyMs;
                    if (eligible[i] && latency < lowestLatency)
                    {
                        (best, lowestLatency) = (i, latency);
                    }
                }
                return best;
            default:
                var highest = double.MinValue;
                for (var i = 0; i < slots.Length; i++)
                {
                    var quality = slots[i].Entry.Descriptor.QualityScore;
                    if (eligible[i] && quality > highest)
                    {
                        (best, highest) = (i, quality);
                    }
                }
                return best;
        }
    }

    // The client named the provider: no weighing or stickiness, but the key's allow-list, the
    // breaker and (on an open breaker) the policy's circuit_breaker_open rule still hold.
    private RouteDecision DecidePinned(CompiledPolicy policy, string tenant, string pinned, in RouteRequest request, int inputTokens, int outputTokens)
    {
        if (!_catalog.TryGet(pinned, out var entry))
        {
            return RouteDecision.Failure(RouteErrorCodes.DecisionFailed, $"provider '{pinned}' is not in the catalog", policy.Id);
        }
        if (!IsAllowed(entry, request))
        {
            return RouteDecision.Failure(RouteErrorCodes.DecisionFailed, $"provider '{pinned}' is not allowed{AllowedProvidersText(request)}", policy.Id);
        }
        if (Acquire(policy, tenant, entry, request.DryRun))
        {
            return Make(entry, RouteReasons.Pinned, policy, PinnedMetadata, inputTokens, outputTokens);
        }
        var rule = policy.Plan.FindImmediate(FailureKinds.CircuitBreakerOpen, request.MessageType);
        if (rule >= 0 && !ReferenceEquals(policy.FallbackTargets[rule], entry) && IsAllowed(policy.FallbackTargets[rule], request)
            && Acquire(policy, tenant, policy.FallbackTargets[rule], request.DryRun))
        {
            return Make(policy.FallbackTargets[rule], RouteReasons.Fallback, policy, policy.FallbackMetadata, inputTokens, outputTokens);
        }
        return RouteDecision.Failure(RouteErrorCodes.DecisionFailed, $"all_providers_failed: provider '{pinned}''s circuit breaker is open", policy.Id);
    }

    private static readonly IReadOnlyDictionary<string, string> PinnedMetadata = new Dictionary<string, string> { ["algorithm"] = "pinned" };

    private static bool Meets(ProviderEntry entry, in RouteRequest request, int inputTokens, int outputTokens) =>
        IsAllowed(entry, request)
        && (request.MaxCost is not { } maxCost || entry.Descriptor.ExpectedCost(inputTokens, outputTokens) <= maxCost)
        && (request.MaxLatencyMs is not { } maxLatency || entry.Stats.LatencyMs <= maxLatency);

    private static bool IsAllowed(ProviderEntry entry, in RouteRequest request)
    {
        if (request.AllowedProviders is not { } allowed)
        {
            return true;
        }
        foreach (var id in allowed)
        {
            if (string.Equals(id, entry.Id, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private bool Acquire(CompiledPolicy policy, string tenant, ProviderEntry entry) =>
        policy.Breaker is null
        || !_breakers.TryGet(new BreakerKey(tenant, policy.Id, entry.Id), out var breaker)
        || breaker.TryAcquire();

    // A dry run asks whether the breaker would let the call through, and takes no half-open trial slot.
    private bool Acquire(CompiledPolicy policy, string tenant, ProviderEntry entry, bool dryRun) =>
        dryRun ? Permitted(policy, tenant, entry) : Acquire(policy, tenant, entry);

    private bool Permitted(CompiledPolicy policy, string tenant, ProviderEntry entry) =>
        policy.Breaker is null
        || !_breakers.TryGet(new BreakerKey(tenant, policy.Id, entry.Id), out var breaker)
        || breaker.IsCallPermitted();

    private static RouteDecision Make(ProviderEntry entry, string reason, CompiledPolicy policy,
        IReadOnlyDictionary<string, string> metadata, int inputTokens, int outputTokens) => new()
        {
            ProviderId = entry.Id,
            Priority = entry.Descriptor.Priority,
            ExpectedLatencyMs = entry.Stats.LatencyMs,
            ExpectedCost = entry.Descriptor.ExpectedCost(inputTokens, outputTokens),
            Reason = reason,
            PolicyId = policy.Id,
            Metadata = metadata,
            Fallbacks = policy.Plan,
        };

    private static string NoneMeetMessage(in RouteRequest request) => string.Create(CultureInfo.InvariantCulture,
        $"no provider meets the constraints (max_cost={request.MaxCost?.ToString(CultureInfo.InvariantCulture) ?? "none"}, max_latency_ms={request.MaxLatencyMs?.ToString(CultureInfo.InvariantCulture) ?? "none"}{AllowedProvidersText(request)})");

    private static string AllowedProvidersText(in RouteRequest request)
        => request.AllowedProviders is { } allowed ? $", allowed_providers=[{string.Join(',', allowed)}]" : string.Empty;
}
