using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Beamline.SharedState;

/// <summary>
/// The JetStream KV buckets of the shared state over the control plane's one NATS connection;
/// each bucket is created (or its settings updated) the first time it is used.
/// </summary>
public sealed class SharedStateConnection
{
    private readonly INatsConnection _connection;
    private readonly NatsKVContext _kv;
    private readonly ConcurrentDictionary<string, Lazy<Task<INatsKVStore>>> _stores = new(StringComparer.Ordinal);
    private readonly Lazy<bool> _jetStream;

    /// <summary>The buckets over <paramref name="connection"/>, named by <paramref name="options"/>.</summary>
    public SharedStateConnection(INatsConnection connection, IOptions<SharedStateOptions> options)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        _connection = connection;
        Options = options.Value;
        var js = new NatsJSContext(connection);
        _kv = new NatsKVContext(js);
        _jetStream = new Lazy<bool>(() => ProbeJetStream(js), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// Whether state is shared: false only when the NATS server answered and has no JetStream
    /// (then each control plane keeps its own state, as without NATS, and a warning says so).
    /// When NATS cannot be reached at the first call, state is shared (and limits fail closed
    /// until NATS comes). Decided once, at the first call, which waits up to a few seconds.
    /// </summary>
    public bool IsShared => _jetStream.Value;

    /// <summary>The settings.</summary>
    public SharedStateOptions Options { get; }

    /// <summary>Whether the connection is open now (when it is not, counters fail fast instead of waiting).</summary>
    public bool IsConnected => _connection.ConnectionState == NatsConnectionState.Open;

    /// <summary>The counters bucket (history 1: only the latest value of a counter matters).</summary>
    public Task<INatsKVStore> CountersAsync(CancellationToken cancellationToken)
        => StoreAsync(new NatsKVConfig(Options.CountersBucket) { History = 1, Description = "Beamline budget and quota counters" }, cancellationToken);

    /// <summary>The routing bucket (breaker states, sticky sessions), whose entries expire after <see cref="SharedStateOptions.RoutingMaxAge"/>.</summary>
    public Task<INatsKVStore> RoutingAsync(CancellationToken cancellationToken)
        => StoreAsync(new NatsKVConfig(Options.RoutingBucket) { History = 1, MaxAge = Options.RoutingMaxAge, Description = "Beamline breaker states and sticky sessions" },
            cancellationToken);

    /// <summary>The configuration bucket (one entry per tenant, team, API key, policy, provider).</summary>
    public Task<INatsKVStore> ConfigAsync(CancellationToken cancellationToken)
        => StoreAsync(new NatsKVConfig(Options.ConfigBucket) { History = 5, Description = "Beamline configuration" }, cancellationToken);

    private bool ProbeJetStream(NatsJSContext js)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            Task.Run(async () =>
            {
                await _connection.ConnectAsync().AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
                await js.GetAccountInfoAsync(timeout.Token).ConfigureAwait(false);
            }).GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (_connection.ConnectionState == NatsConnectionState.Open
            && (e is NatsNoRespondersException || (e is NatsJSApiException api && api.Error.Code == 503)))
        {
            NoJetStream = true;
            return false;
        }
#pragma warning disable CA1031 // NATS unreachable now: share (fail closed) and let it come.
        catch (Exception)
#pragma warning restore CA1031
        {
            return true;
        }
    }

    /// <summary>True when the probe found a NATS server without JetStream.</summary>
    public bool NoJetStream { get; private set; }

    private Task<INatsKVStore> StoreAsync(NatsKVConfig config, CancellationToken cancellationToken)
    {
        var lazy = _stores.GetOrAdd(config.Bucket, _ => new Lazy<Task<INatsKVStore>>(() => CreateAsync(config)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            // A failed creation (NATS was down) is tried again by the next caller.
            _stores.TryUpdate(config.Bucket, new Lazy<Task<INatsKVStore>>(() => CreateAsync(config)), lazy);
        }
        return task.WaitAsync(cancellationToken);
    }

    private async Task<INatsKVStore> CreateAsync(NatsKVConfig config)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _kv.CreateOrUpdateStoreAsync(config, timeout.Token).ConfigureAwait(false);
    }
}
