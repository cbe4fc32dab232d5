using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Beamline.SharedState;

/// <summary>
/// The JetStream KV buckets of the shared state over the control plane's one NATS connection;
/// each bucket is created (or its settings updated) the first time it is used.
/// </summary>
public sealed partial class SharedStateConnection
{
    private readonly INatsConnection _connection;
    private readonly NatsKVContext _kv;
    private readonly ConcurrentDictionary<string, Lazy<Task<INatsKVStore>>> _stores = new(StringComparer.Ordinal);
    private readonly NatsJSContext _js;
    private readonly ILogger<SharedStateConnection>? _logger;
    private readonly Lock _probeLock = new();

    // 0: not known yet (NATS not reached); 1: the server has JetStream; 2: it answered without it.
    private volatile int _jetStream;

    /// <summary>The buckets over <paramref name="connection"/>, named by <paramref name="options"/>.</summary>
    public SharedStateConnection(INatsConnection connection, IOptions<SharedStateOptions> options, ILogger<SharedStateConnection>? logger = null)
    {
        _logger = logger;
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        _connection = connection;
        Options = options.Value;
        _js = new NatsJSContext(connection);
        _kv = new NatsKVContext(_js);
    }

    /// <summary>
    /// Whether state is shared: false once the NATS server has answered without JetStream (then
    /// each control plane keeps its own state, as without NATS, and a warning says so). While
    /// NATS has not been reached it counts as shared (limits fail closed until NATS comes) and
    /// each call asks again, waiting up to a few seconds.
    /// </summary>
    public bool IsShared
    {
        get
        {
            if (_jetStream == 0)
            {
                lock (_probeLock)
                {
                    if (_jetStream == 0)
                    {
                        Probe();
                    }
                }
            }
            return _jetStream != 2;
        }
    }

    /// <summary>True once the NATS server has answered without JetStream: counters then stay in this process.</summary>
    public bool NoJetStream => _jetStream == 2;

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

    private void Probe()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            Task.Run(async () =>
            {
                await _connection.ConnectAsync().AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
                await _js.GetAccountInfoAsync(timeout.Token).ConfigureAwait(false);
            }).GetAwaiter().GetResult();
            _jetStream = 1;
        }
#pragma warning disable CA1031 // NATS unreachable now: not known yet.
        catch (Exception error)
#pragma warning restore CA1031
        {
            Classify(error);
        }
    }

    /// <summary>Records a JetStream failure: the server answered that it has no JetStream (it is connected, nobody serves the JetStream API).</summary>
    internal void Classify(Exception error)
    {
        if (_jetStream != 2 && _connection.ConnectionState == NatsConnectionState.Open
            && (error is NatsNoRespondersException || error.InnerException is NatsNoRespondersException
                || (error is NatsJSApiException api && api.Error.Code == 503)))
        {
            _jetStream = 2;
            if (_logger is not null)
            {
                LogNoJetStream(_logger);
            }
        }
    }

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
        try
        {
            var store = await _kv.CreateOrUpdateStoreAsync(config, timeout.Token).ConfigureAwait(false);
            _jetStream = 1;
            return store;
        }
        catch (Exception error)
        {
            Classify(error);
            throw;
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "The NATS server has no JetStream (start it with -js): budgets, quotas, breakers, sticky sessions "
        + "and configuration stay per control plane.")]
    private static partial void LogNoJetStream(ILogger logger);
}
