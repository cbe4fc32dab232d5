using System.Collections.Concurrent;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Routing;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Routing;

/// <summary>The decisions kept for <c>get_decision</c>. Bound from <c>Beamline:Decisions</c>.</summary>
public sealed class DecisionStoreOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Decisions";

    /// <summary>How long a decision can be fetched again. Defaults to 600 (10 minutes).</summary>
    public int TtlSeconds { get; set; } = 600;

    /// <summary>The most decisions kept; the oldest go first. 0 keeps none. Defaults to 100,000.</summary>
    public int MaxEntries { get; set; } = 100_000;
}

/// <summary>
/// The successful decisions of this control plane, by message id, for CP1 <c>get_decision</c>
/// (<c>beamline.router.v1.get_decision</c>, <c>GET /api/v1/routes/decide/{message_id}</c>): bounded
/// in size (oldest evicted first) and in time. An entry answers the decide reply again, exactly;
/// a lookup limited to a tenant never sees another tenant's decision. Per instance: with several
/// control planes, a decision is known to the one that made it.
/// </summary>
internal sealed class DecisionStore(IOptions<DecisionStoreOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Tenant, string MessageId), StoredDecision> _entries = new();
    private readonly ConcurrentDictionary<string, string> _latestTenant = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Tenant, string MessageId)> _order = new();
    private readonly TimeSpan _ttl = TimeSpan.FromSeconds(Math.Max(1, options.Value.TtlSeconds));
    private readonly int _maxEntries = Math.Max(0, options.Value.MaxEntries);

    /// <summary>Keeps the reply of a successful decide.</summary>
    public void Add(DecideRequest request, in RouteDecision decision, KeyValuePair<string, string>[] extraMetadata)
        => Add(request.TenantId, request.MessageId ?? request.RequestId, request.RequestId, request.TraceId, decision, extraMetadata);

    /// <summary>Keeps a successful decide of any face (CP2's too): one store, so either protocol can fetch it.</summary>
    public void Add(string tenantId, string messageId, string requestId, string? traceId, in RouteDecision decision,
        KeyValuePair<string, string>[] extraMetadata)
    {
        if (_maxEntries == 0)
        {
            return;
        }
        var key = (tenantId, messageId);
        var entry = new StoredDecision(decision, requestId, traceId, extraMetadata, time.GetUtcNow() + _ttl);
        if (_entries.TryAdd(key, entry))
        {
            _order.Enqueue(key);
        }
        else
        {
            _entries[key] = entry;
        }
        _latestTenant[messageId] = tenantId;
        while (_entries.Count > _maxEntries && _order.TryDequeue(out var oldest))
        {
            Remove(oldest);
        }
    }

    /// <summary>
    /// Writes the stored reply of <paramref name="messageId"/> (limited to <paramref name="tenantId"/>
    /// when given) and returns 200, or writes a CP1 <c>not_found</c> error and returns 404.
    /// </summary>
    public int Write(Utf8JsonWriter writer, string messageId, string? tenantId)
    {
        var tenant = tenantId ?? (_latestTenant.TryGetValue(messageId, out var latest) ? latest : null);
        if (tenant is not null && _entries.TryGetValue((tenant, messageId), out var entry))
        {
            if (entry.ExpiresAt > time.GetUtcNow())
            {
                DecideCodec.WriteOk(writer, entry.Decision, entry.RequestId, entry.TraceId, entry.ExtraMetadata);
                return 200;
            }
            Remove((tenant, messageId));
        }
        var error = new Cp1Error(Cp1ErrorCodes.NotFound, $"no decision is stored for message_id '{messageId}'", "message_id", Cp1ErrorTypes.InvalidValue);
        DecideCodec.WriteError(writer, error, messageId, null);
        return error.HttpStatus;
    }

    /// <summary>The live decision of <paramref name="messageId"/> stored for <paramref name="tenantId"/> (never another tenant's).</summary>
    public bool TryGet(string tenantId, string messageId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredDecision? decision)
    {
        if (_entries.TryGetValue((tenantId, messageId), out decision))
        {
            if (decision.ExpiresAt > time.GetUtcNow())
            {
                return true;
            }
            Remove((tenantId, messageId));
            decision = null;
        }
        return false;
    }

    private void Remove((string Tenant, string MessageId) key)
    {
        if (_entries.TryRemove(key, out _))
        {
            _latestTenant.TryRemove(new KeyValuePair<string, string>(key.MessageId, key.Tenant));
        }
    }

}

/// <summary>A stored decision: what its decide answered (the decision, the ids echoed, the reply's extra metadata) and until when.</summary>
internal sealed record StoredDecision(RouteDecision Decision, string RequestId, string? TraceId, KeyValuePair<string, string>[] ExtraMetadata,
    DateTimeOffset ExpiresAt);
