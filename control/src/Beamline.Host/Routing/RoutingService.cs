using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Beamline.Pipeline.Routing;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Breakers;
using Beamline.Routing.Shared;
using Beamline.Routing.Catalog;
using Beamline.Routing.Fallbacks;
using Beamline.Tenancy;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Beamline.Host.Routing;

/// <summary>
/// The routing core as the host serves it: one <see cref="Router"/> per tenant, each compiled
/// from that tenant's own policies only (a key of tenant A can never decide with tenant B's
/// policy), sharing one <see cref="ProviderCatalog"/> built from tenancy's provider entries.
/// The whole set is rebuilt and swapped atomically when tenancy's routing view changes (no
/// restart); a rebuild starts fresh statistics, breakers and sticky sessions. With an
/// <see cref="IRoutingStateShare"/> (several control planes on one NATS), breaker transitions and
/// sticky sessions are shared with the other control planes.
/// </summary>
public sealed partial class RoutingService : IPolicyRouter, IRoutingStateListener, IDisposable
{
    private readonly ITenantDirectory _directory;
    private readonly RouterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RoutingService> _logger;
    private readonly Beamline.Routing.Bandits.IBanditSelector _bandits;
    private readonly Lock _rebuildLock = new();
    private readonly IDisposable _changes;
    private readonly IRoutingStateShare? _share;
    private RoutingState _state = RoutingState.Empty;

    /// <summary>Creates the service; it follows <paramref name="directory"/>'s change token and shares breakers and sessions through <paramref name="share"/> when given.</summary>
    /// <param name="directory">Tenancy: the tenants, their policies and the provider entries.</param>
    /// <param name="options">Router settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">The log.</param>
    /// <param name="bandits">Picks the arms of language policies' <c>bandit(...)</c> calls.</param>
    /// <param name="share">Where breaker states and sticky sessions are shared with other control planes (none: per process).</param>
    public RoutingService(ITenantDirectory directory, IOptions<RouterOptions> options, TimeProvider time, ILogger<RoutingService> logger,
        Beamline.Routing.Bandits.IBanditSelector bandits, IRoutingStateShare? share = null)
    {
        _bandits = bandits;
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(options);
        _share = share;
        _directory = directory;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _changes = ChangeToken.OnChange(directory.GetChangeToken, () => _ = Current);
        share?.Listen(this);
    }

    /// <summary>A unique id of this process, reported as <c>instance_id</c> in decision metadata.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>The routing state for tenancy's current snapshot (rebuilt first if tenancy moved on).</summary>
    internal RoutingState Current
    {
        get
        {
            var state = Volatile.Read(ref _state);
            return state.RoutingVersion == _directory.Snapshot.RoutingVersion ? state : Rebuild();
        }
    }

    /// <summary>
    /// Decides for <c>request.TenantId</c> with that tenant's policies; the policy defaults to the
    /// tenant's default policy. An unknown tenant fails with <c>unauthorized</c>.
    /// </summary>
    public RouteDecision Decide(in RouteRequest request)
    {
        if (request.TenantId is null || !Current.Tenants.TryGetValue(request.TenantId, out var tenant))
        {
            return RouteDecision.Failure(Cp1.Cp1ErrorCodes.Unauthorized, "unknown tenant", request.PolicyId);
        }
        return tenant.Router.Decide(request);
    }

    /// <summary>
    /// The next provider after <paramref name="failedProvider"/> failed (a retry or a fallback), or a
    /// failed decision when the policy's plan is exhausted; see <see cref="IRouter.DecideFallback"/>.
    /// </summary>
    public RouteDecision DecideFallback(in RouteRequest request, ref FallbackCursor cursor, string failedProvider, FailureKinds failure)
    {
        if (request.TenantId is null || !Current.Tenants.TryGetValue(request.TenantId, out var tenant))
        {
            return RouteDecision.Failure(Cp1.Cp1ErrorCodes.Unauthorized, "unknown tenant", request.PolicyId);
        }
        return tenant.Router.DecideFallback(request, ref cursor, failedProvider, failure);
    }

    /// <summary>Feeds one call's result into the tenant's provider statistics and breakers.</summary>
    public void RecordOutcome(in RouteOutcome outcome)
    {
        if (Current.Tenants.TryGetValue(outcome.TenantId, out var tenant))
        {
            tenant.Router.RecordOutcome(outcome);
        }
    }

    /// <summary>Gives back the half-open trial slot of a decision whose call was not made or whose outcome will not be recorded.</summary>
    public void ReleaseTrial(string tenantId, string? policyId, string providerId)
    {
        if (Current.Tenants.TryGetValue(tenantId, out var tenant))
        {
            tenant.Router.ReleaseTrial(tenantId, policyId, providerId);
        }
    }

    /// <summary>The catalog entry of a provider; false for one that no provider entry describes.</summary>
    public bool TryGetProvider(string providerId, [NotNullWhen(true)] out ProviderDescriptor? provider)
    {
        if (Current.Catalog.TryGet(providerId, out var entry) && entry.Descriptor.Kind != ProviderKind.Unknown)
        {
            provider = entry.Descriptor;
            return true;
        }
        provider = null;
        return false;
    }

    /// <inheritdoc />
    public bool TryFindProviderByModel(string model, [NotNullWhen(true)] out ProviderDescriptor? provider)
        => Current.ModelIndex.TryGetValue(model, out provider);

    /// <inheritdoc />
    public bool TryGetPolicy(string tenantId, string? policyId, [NotNullWhen(true)] out Policy? policy)
    {
        if (Current.Tenants.TryGetValue(tenantId, out var tenant) && tenant.Policies.TryGet(policyId ?? tenant.DefaultPolicyId, out policy))
        {
            return true;
        }
        policy = null;
        return false;
    }

    /// <summary>The policy id a request of <paramref name="tenantId"/> resolves to.</summary>
    public string EffectivePolicyId(string tenantId, string? policyId)
        => policyId ?? (Current.Tenants.TryGetValue(tenantId, out var tenant) ? tenant.DefaultPolicyId : _options.DefaultPolicyId);

    /// <inheritdoc />
    public void Dispose() => _changes.Dispose();

    /// <summary>
    /// Another control plane's breaker changed: the same breaker here follows it (created when
    /// missing, with the policy's settings). An open whose timeout has already passed is ignored.
    /// </summary>
    public void OnBreakerChanged(in BreakerKey key, CircuitState state, DateTimeOffset openedAt)
    {
        if (!Current.Tenants.TryGetValue(key.TenantId, out var tenant)
            || !tenant.Policies.TryGet(key.PolicyId, out var policy) || policy.CircuitBreaker is not { } settings)
        {
            return;
        }
        if (state == CircuitState.Open && _time.GetUtcNow() - openedAt >= settings.OpenTimeout)
        {
            return;
        }
        if (state == CircuitState.Closed && !tenant.Router.Breakers.TryGet(key, out _))
        {
            return;
        }
        tenant.Router.Breakers.GetOrAdd(key, settings).ApplyShared(state, openedAt);
    }

    private RoutingState Rebuild()
    {
        lock (_rebuildLock)
        {
            var snapshot = _directory.Snapshot;
            var current = Volatile.Read(ref _state);
            if (current.RoutingVersion == snapshot.RoutingVersion)
            {
                return current;
            }
            var catalog = new ProviderCatalog(ReadProviders(snapshot));
            var tenants = new Dictionary<string, TenantRouting>(StringComparer.Ordinal);
            foreach (var tenant in snapshot.Tenants.Values)
            {
                var policies = new PolicySet(ReadPolicies(tenant));
                foreach (var (id, error) in policies.LeftOut)
                {
                    // A language policy whose `use` does not resolve (unknown target, cycle) is left out.
                    LogBadPolicy(tenant.Id, id, error.ToString());
                }
                var options = new RouterOptions
                {
                    DefaultPolicyId = tenant.DefaultPolicyId ?? _options.DefaultPolicyId,
                    StickyCapacity = _options.StickyCapacity,
                    DefaultInputTokens = _options.DefaultInputTokens,
                    DefaultOutputTokens = _options.DefaultOutputTokens,
                    PolicyStepBudget = _options.PolicyStepBudget,
                };
                var router = new Router(catalog, policies, options, _time, bandits: _bandits);
                if (_share is not null)
                {
                    router.Breakers.Attach(_share);
                    router.Sessions.Attach(_share, _time);
                }
                tenants[tenant.Id] = new TenantRouting(router, policies, options.DefaultPolicyId);
            }
            var state = new RoutingState(snapshot.RoutingVersion, catalog, tenants.ToFrozenDictionary(StringComparer.Ordinal), IndexModels(catalog));
            Volatile.Write(ref _state, state);
            // The new routers take the other control planes' breaker states (Current is already this state).
            _share?.Listen(this);
            LogRebuilt(snapshot.RoutingVersion, tenants.Count, catalog.Entries.Count);
            return state;
        }
    }

    // Model name → the provider offering it (the first by id when several do), for the gateway's `model`.
    private static FrozenDictionary<string, ProviderDescriptor> IndexModels(ProviderCatalog catalog)
    {
        var index = new Dictionary<string, ProviderDescriptor>(StringComparer.Ordinal);
        foreach (var entry in catalog.Entries.OrderBy(e => e.Id, StringComparer.Ordinal))
        {
            var descriptor = entry.Descriptor;
            if (descriptor.Kind == ProviderKind.Unknown)
            {
                continue;
            }
            if (descriptor.Model is { } model)
            {
                index.TryAdd(model, descriptor);
            }
            foreach (var name in descriptor.Models.IsDefault ? [] : descriptor.Models)
            {
                index.TryAdd(name, descriptor);
            }
        }
        return index.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private List<ProviderDescriptor> ReadProviders(TenancySnapshot snapshot)
    {
        var providers = new List<ProviderDescriptor>(snapshot.Providers.Length);
        foreach (var entry in snapshot.Providers)
        {
            try
            {
                providers.Add(ProviderJson.Parse(entry.Id, entry.Json));
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                LogBadProvider(entry.Id, e.Message);
            }
        }
        return providers;
    }

    private List<Policy> ReadPolicies(TenantSnapshot tenant)
    {
        var policies = new List<Policy>(tenant.Policies.Count);
        foreach (var (id, json) in tenant.Policies)
        {
            var result = PolicyLoader.Load(id, Encoding.UTF8.GetBytes(json), $"tenant {tenant.Id}");
            if (result.Policy is { } policy)
            {
                policies.Add(policy);
            }
            foreach (var error in result.Errors)
            {
                LogBadPolicy(tenant.Id, id, error.ToString());
            }
        }
        return policies;
    }
}

/// <summary>One tenant's router and the policies it was compiled from.</summary>
internal sealed record TenantRouting(Router Router, PolicySet Policies, string DefaultPolicyId);

/// <summary>Everything routing needs for one tenancy routing version, swapped as a whole.</summary>
internal sealed record RoutingState(long RoutingVersion, ProviderCatalog Catalog, FrozenDictionary<string, TenantRouting> Tenants,
    FrozenDictionary<string, ProviderDescriptor> ModelIndex)
{
    public static RoutingState Empty { get; } = new(-1, new ProviderCatalog([]), FrozenDictionary<string, TenantRouting>.Empty,
        FrozenDictionary<string, ProviderDescriptor>.Empty);
}
