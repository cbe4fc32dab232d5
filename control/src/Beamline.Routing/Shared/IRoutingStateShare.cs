using System.Diagnostics.CodeAnalysis;
using Beamline.Routing.Breakers;
using Beamline.Routing.Sticky;

namespace Beamline.Routing.Shared;

/// <summary>
/// Where routing state is shared with the other control planes on the same NATS (JetStream KV in
/// <c>Beamline.SharedState</c>): circuit breaker transitions and sticky sessions. Without one, each
/// process keeps its own (the embedded default).
/// </summary>
/// <remarks>
/// Publishing must not block the request path: implementations queue the change and write it in
/// the background (a brief divergence between control planes is harmless for both). Reads are
/// served from a local cache the implementation keeps current.
/// </remarks>
public interface IRoutingStateShare
{
    /// <summary>A breaker of this process changed state (opened or closed); <paramref name="openedAt"/> is when it opened.</summary>
    void PublishBreaker(in BreakerKey key, CircuitState state, DateTimeOffset openedAt);

    /// <summary>This process assigned <paramref name="providerId"/> to a session until <paramref name="expiresAt"/>.</summary>
    void PublishSession(in StickyKey key, string providerId, DateTimeOffset expiresAt);

    /// <summary>The provider another control plane assigned to a session, while it lives.</summary>
    bool TryGetSession(in StickyKey key, [MaybeNullWhen(false)] out string providerId);

    /// <summary>Sends the breaker changes of the other control planes to <paramref name="listener"/> from now on.</summary>
    void Listen(IRoutingStateListener listener);
}

/// <summary>Receives the routing state changes other control planes published.</summary>
public interface IRoutingStateListener
{
    /// <summary>Another control plane's breaker for <paramref name="key"/> went to <paramref name="state"/> (opened at <paramref name="openedAt"/>).</summary>
    void OnBreakerChanged(in BreakerKey key, CircuitState state, DateTimeOffset openedAt);
}
