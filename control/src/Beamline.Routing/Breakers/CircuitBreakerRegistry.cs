using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Beamline.Policies;
using Beamline.Routing.Shared;

namespace Beamline.Routing.Breakers;

/// <summary>The scope of one breaker: a tenant's calls to a provider under one policy.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="PolicyId">The policy (whose thresholds the breaker uses).</param>
/// <param name="ProviderId">The provider.</param>
public readonly record struct BreakerKey(string TenantId, string PolicyId, string ProviderId);

/// <summary>
/// Circuit breakers per (tenant, policy, provider). Why that scope: the thresholds come from the
/// policy, so each breaker has exactly one configuration; failures one tenant causes (its own
/// provider key, its own rate limits) do not cut off other tenants; and a provider-wide outage
/// still opens every affected breaker within <c>failure_threshold</c> calls each. Breakers are
/// created on the first recorded outcome; a missing breaker is closed, so deciding never
/// allocates one. Memory grows with tenants × policies × providers actually used.
/// </summary>
public sealed class CircuitBreakerRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<BreakerKey, CircuitBreaker> _breakers = new();
    private IRoutingStateShare? _share;

    /// <summary>The number of breakers created.</summary>
    public int Count => _breakers.Count;

    /// <summary>Finds an existing breaker.</summary>
    public bool TryGet(in BreakerKey key, [MaybeNullWhen(false)] out CircuitBreaker breaker) =>
        _breakers.TryGetValue(key, out breaker);

    /// <summary>The breaker for <paramref name="key"/>, created closed when absent.</summary>
    public CircuitBreaker GetOrAdd(in BreakerKey key, CircuitBreakerSettings settings) =>
        _breakers.GetOrAdd(key, static (key, state) => Create(key, state.Settings, state.Time, state.Share),
            (Settings: settings, Time: time, Share: Volatile.Read(ref _share)));

    /// <summary>
    /// Publishes every open and close of this registry's breakers to <paramref name="share"/>
    /// (breakers created from now on), so other control planes follow them.
    /// </summary>
    public void Attach(IRoutingStateShare share)
    {
        ArgumentNullException.ThrowIfNull(share);
        Volatile.Write(ref _share, share);
    }

    private static CircuitBreaker Create(BreakerKey key, CircuitBreakerSettings settings, TimeProvider time, IRoutingStateShare? share)
    {
        var breaker = new CircuitBreaker(settings, time);
        if (share is not null)
        {
            breaker.OnStateChanged((state, openedAt) => share.PublishBreaker(key, state, openedAt));
        }
        return breaker;
    }

    /// <summary>The state of a breaker (closed when it does not exist).</summary>
    public CircuitState GetState(in BreakerKey key) => TryGet(key, out var breaker) ? breaker.State : CircuitState.Closed;

    /// <summary>Drops every breaker (e.g. after the policies were replaced).</summary>
    public void Clear() => _breakers.Clear();
}
