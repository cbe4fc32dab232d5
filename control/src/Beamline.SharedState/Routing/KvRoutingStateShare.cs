using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Threading.Channels;
using Beamline.Routing.Breakers;
using Beamline.Routing.Shared;
using Beamline.Routing.Sticky;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.KeyValueStore;

namespace Beamline.SharedState.Routing;

/// <summary>
/// Breaker states and sticky sessions shared through the routing bucket:
/// <c>breaker.&lt;tenant&gt;.&lt;policy&gt;.&lt;provider&gt;</c> and
/// <c>sticky.&lt;tenant&gt;.&lt;policy&gt;.&lt;session&gt;</c>. Writes are queued and put in the
/// background (last writer wins: a brief divergence is harmless); a watch keeps a local cache of
/// the other control planes' entries, which the request path reads without NATS.
/// </summary>
/// <remarks>
/// A breaker that opens here is open on every control plane as soon as the watch delivers the put
/// (milliseconds on one NATS; the tests require under 1 s), with the same end of its open timeout.
/// Sticky sessions expire at the time they carry; the bucket's max age
/// (<see cref="SharedStateOptions.RoutingMaxAge"/>) removes them from NATS. NATS down: each control
/// plane goes on with its own breakers and sessions, and the queued writes are dropped when the
/// queue is full (state converges again with the next changes).
/// </remarks>
internal sealed partial class KvRoutingStateShare(SharedStateConnection connection, TimeProvider time, ILogger<KvRoutingStateShare> logger)
    : BackgroundService, IRoutingStateShare
{
    private readonly Channel<(string Key, byte[] Value)> _writes = Channel.CreateBounded<(string, byte[])>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly ConcurrentDictionary<StickyKey, (string ProviderId, long ExpiresAtMs)> _sessions = new();
    private readonly ConcurrentDictionary<BreakerKey, (CircuitState State, DateTimeOffset OpenedAt)> _breakers = new();
    private readonly string _self = connection.Options.InstanceId;
    private volatile IRoutingStateListener? _listener;
    private long _nextSweepMs;

    /// <summary>Entries received from the watch (for tests and metrics).</summary>
    public long Received => Interlocked.Read(ref _received);

    private long _received;

    /// <inheritdoc />
    public void PublishBreaker(in BreakerKey key, CircuitState state, DateTimeOffset openedAt)
    {
        var value = JsonSerializer.SerializeToUtf8Bytes(new SharedEntry(_self, state == CircuitState.Open ? "open" : "closed",
            openedAt.ToUnixTimeMilliseconds()), SharedStateJson.Default.SharedEntry);
        _writes.Writer.TryWrite(($"breaker.{KvKeys.Token(key.TenantId)}.{KvKeys.Token(key.PolicyId)}.{KvKeys.Token(key.ProviderId)}", value));
    }

    /// <inheritdoc />
    public void PublishSession(in StickyKey key, string providerId, DateTimeOffset expiresAt)
    {
        var value = JsonSerializer.SerializeToUtf8Bytes(new SharedEntry(_self, providerId, expiresAt.ToUnixTimeMilliseconds()),
            SharedStateJson.Default.SharedEntry);
        _writes.Writer.TryWrite(($"sticky.{KvKeys.Token(key.TenantId)}.{KvKeys.Token(key.PolicyId)}.{KvKeys.Token(key.Session)}", value));
    }

    /// <inheritdoc />
    public bool TryGetSession(in StickyKey key, [MaybeNullWhen(false)] out string providerId)
    {
        if (_sessions.TryGetValue(key, out var session) && session.ExpiresAtMs > time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            providerId = session.ProviderId;
            return true;
        }
        providerId = null;
        return false;
    }

    /// <summary>
    /// Sends the other control planes' breaker changes to <paramref name="listener"/> from now on,
    /// after the latest state of each breaker seen so far (so a listener that comes late, or rebuilt
    /// its routers, misses nothing).
    /// </summary>
    public void Listen(IRoutingStateListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _listener = listener;
        foreach (var (key, (state, openedAt)) in _breakers)
        {
            listener.OnBreakerChanged(key, state, openedAt);
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await Task.Run(() => connection.IsShared, stoppingToken).ConfigureAwait(false))
        {
            await Task.WhenAll(WriteLoopAsync(stoppingToken), WatchLoopAsync(stoppingToken)).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync(CancellationToken stoppingToken)
    {
        await foreach (var (key, value) in _writes.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var store = await connection.RoutingAsync(stoppingToken).ConfigureAwait(false);
                await store.PutAsync(key, value, cancellationToken: stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // NATS down: this write is lost; the next change converges again.
            catch (Exception error)
#pragma warning restore CA1031
            {
                if (!connection.NoJetStream)
                {
                    LogWriteFailed(key, error.Message);
                }
            }
        }
    }

    private async Task WatchLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var store = await connection.RoutingAsync(stoppingToken).ConfigureAwait(false);
                await foreach (var entry in store.WatchAsync<byte[]>(">", cancellationToken: stoppingToken).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _received);
                    Apply(entry);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The watch is restarted: NATS may come back.
            catch (Exception error)
#pragma warning restore CA1031
            {
                if (connection.NoJetStream)
                {
                    return;
                }
                LogWatchFailed(error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private void Apply(NatsKVEntry<byte[]> entry)
    {
        if (entry.Operation != NatsKVOperation.Put || entry.Value is not { Length: > 0 } bytes)
        {
            return;
        }
        var parts = entry.Key.Split('.');
        if (parts.Length != 4)
        {
            return;
        }
        SharedEntry? value;
        try
        {
            value = JsonSerializer.Deserialize(bytes, SharedStateJson.Default.SharedEntry);
        }
        catch (JsonException)
        {
            return;
        }
        if (value is null || string.Equals(value.By, _self, StringComparison.Ordinal))
        {
            return;
        }
        var (tenant, policy, last) = (KvKeys.Id(parts[1]), KvKeys.Id(parts[2]), KvKeys.Id(parts[3]));
        if (parts[0] == "sticky")
        {
            _sessions[new StickyKey(tenant, policy, last)] = (value.State, value.At);
            Sweep();
        }
        else if (parts[0] == "breaker")
        {
            var key = new BreakerKey(tenant, policy, last);
            var state = value.State == "open" ? CircuitState.Open : CircuitState.Closed;
            var openedAt = DateTimeOffset.FromUnixTimeMilliseconds(value.At);
            _breakers[key] = (state, openedAt);
            _listener?.OnBreakerChanged(key, state, openedAt);
        }
    }

    // Expired sessions leave the cache at most once a minute.
    private void Sweep()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now < _nextSweepMs)
        {
            return;
        }
        _nextSweepMs = now + 60_000;
        foreach (var (key, session) in _sessions)
        {
            if (session.ExpiresAtMs <= now)
            {
                _sessions.TryRemove(key, out _);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Shared routing state: could not write {Key}: {Reason}.")]
    private partial void LogWriteFailed(string key, string reason);

    [LoggerMessage(2, LogLevel.Warning, "Shared routing state: the watch stopped ({Reason}); restarting it.")]
    private partial void LogWatchFailed(string reason);
}

/// <summary>A routing bucket value: who wrote it, the state (breaker) or provider (sticky), and the time (opened at, expires at; Unix ms).</summary>
internal sealed record SharedEntry(string By, string State, long At);
