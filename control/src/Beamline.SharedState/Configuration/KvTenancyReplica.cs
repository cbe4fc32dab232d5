using System.Text;
using Beamline.Tenancy;
using Beamline.Tenancy.Replication;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.KeyValueStore;

namespace Beamline.SharedState.Configuration;

/// <summary>
/// Tenancy (tenants, teams, API keys, policies, providers) shared through the configuration bucket,
/// one entry per entity (<c>tenant.&lt;id&gt;</c>, <c>team.&lt;tenant&gt;.&lt;id&gt;</c>, ...). A
/// change made on one control plane is put there under tenancy's write lock; every control plane
/// watches the bucket and makes its own database equal to it (<see cref="TenantDirectory.ApplyReplicaAsync"/>),
/// so a change is live everywhere as soon as the watch delivers it.
/// </summary>
/// <remarks>
/// <para>
/// Conflicts: last writer wins, by KV revision — two control planes changing one entity at once
/// both write it, the later revision is what every watch ends with. Different entities never conflict.
/// </para>
/// <para>
/// Start: when the bucket is empty, this control plane's configuration (its file and database)
/// seeds it; otherwise the bucket is the record — local entities it has never seen (nor deleted)
/// are added to it, then the local database is made equal to it. API keys are stored as their
/// hashes, which only verify where the same <c>Beamline:Tenancy:Pepper</c> is set: give every
/// control plane the same pepper.
/// </para>
/// <para>
/// NATS down: each control plane serves its last configuration; an admin change made meanwhile is
/// committed locally but not shared (an error is logged), and the bucket's version replaces it
/// once the watch is back.
/// </para>
/// </remarks>
internal sealed partial class KvTenancyReplica(SharedStateConnection connection, TenantDirectory directory, ILogger<KvTenancyReplica> logger)
    : BackgroundService, ITenancyReplica
{
    private readonly Lock _viewLock = new();
    private readonly Dictionary<string, string> _view = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0, int.MaxValue);
    private bool _initialized;

    /// <summary>Changes applied from the bucket (for tests).</summary>
    public int Applied => Volatile.Read(ref _applied);

    private int _applied;

    /// <inheritdoc />
    public async Task PublishAsync(IReadOnlyDictionary<string, string> puts, IReadOnlyCollection<string> deletes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(puts);
        ArgumentNullException.ThrowIfNull(deletes);
        var store = await connection.ConfigAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (entity, json) in puts)
        {
            await store.PutAsync(ToKey(entity), Encoding.UTF8.GetBytes(json), cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_viewLock)
            {
                _view[entity] = json;
                _deleted.Remove(entity);
            }
        }
        foreach (var entity in deletes)
        {
            await store.DeleteAsync(ToKey(entity), cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_viewLock)
            {
                _view.Remove(entity);
                _deleted.Add(entity);
            }
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await Task.Run(() => connection.IsShared, stoppingToken).ConfigureAwait(false))
        {
            await Task.WhenAll(WatchLoopAsync(stoppingToken), ApplyLoopAsync(stoppingToken)).ConfigureAwait(false);
        }
    }

    private async Task WatchLoopAsync(CancellationToken stoppingToken)
    {
        // The database is opened and seeded first (safe to call again after tenancy's own start-up).
        await directory.InitializeAsync(stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var store = await connection.ConfigAsync(stoppingToken).ConfigureAwait(false);
                var opts = new NatsKVWatchOpts
                {
                    // An empty bucket: the initial state is complete at once; go on watching (false).
                    OnNoData = async token =>
                    {
                        await InitializeAsync(token).ConfigureAwait(false);
                        return false;
                    },
                };
                await foreach (var entry in store.WatchAsync<byte[]>(">", opts: opts, cancellationToken: stoppingToken).ConfigureAwait(false))
                {
                    var entity = ToEntity(entry.Key);
                    lock (_viewLock)
                    {
                        if (entry.Operation == NatsKVOperation.Put && entry.Value is { } value)
                        {
                            _view[entity] = Encoding.UTF8.GetString(value);
                            _deleted.Remove(entity);
                        }
                        else
                        {
                            _view.Remove(entity);
                            _deleted.Add(entity);
                        }
                    }
                    if (entry.Delta == 0)
                    {
                        // Caught up with the bucket: apply (the first time, after merging what only this control plane has).
                        if (!_initialized)
                        {
                            await InitializeAsync(stoppingToken).ConfigureAwait(false);
                        }
                        _changed.Release();
                    }
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
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    // Local entities the bucket has never seen (nor deleted) go into it; from then on local changes are published.
    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (_initialized)
        {
            return;
        }
        var local = await directory.ExportAsync(cancellationToken).ConfigureAwait(false);
        var missing = new Dictionary<string, string>(StringComparer.Ordinal);
        lock (_viewLock)
        {
            foreach (var (entity, json) in local)
            {
                if (!_view.ContainsKey(entity) && !_deleted.Contains(entity))
                {
                    missing[entity] = json;
                }
            }
        }
        await PublishAsync(missing, [], cancellationToken).ConfigureAwait(false);
        directory.AttachReplica(this);
        _initialized = true;
        LogJoined(local.Count, missing.Count);
        _changed.Release();
    }

    // Applies the bucket's state after changes; bursts of changes coalesce into one rebuild.
    private async Task ApplyLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await _changed.WaitAsync(stoppingToken).ConfigureAwait(false);
            while (_changed.CurrentCount > 0)
            {
                await _changed.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            if (!_initialized)
            {
                continue;
            }
            try
            {
                if (await directory.ApplyReplicaAsync(Snapshot, stoppingToken).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _applied);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed apply is retried with the next change.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogApplyFailed(error);
            }
        }
    }

    private Dictionary<string, string> Snapshot()
    {
        lock (_viewLock)
        {
            return new Dictionary<string, string>(_view, StringComparer.Ordinal);
        }
    }

    // Entity "team/t1/x" ↔ KV key "team.t1.x" (each part a key token: ids may hold '.' or ':').
    internal static string ToKey(string entity) => string.Join('.', entity.Split('/').Select(KvKeys.Token));

    internal static string ToEntity(string key) => string.Join('/', key.Split('.').Select(KvKeys.Id));

    [LoggerMessage(1, LogLevel.Information, "Shared configuration: joined ({Local} local entities, {Added} added to the bucket).")]
    private partial void LogJoined(int local, int added);

    [LoggerMessage(2, LogLevel.Warning, "Shared configuration: the watch stopped ({Reason}); restarting it.")]
    private partial void LogWatchFailed(string reason);

    [LoggerMessage(3, LogLevel.Error, "Shared configuration: applying the bucket's state failed.")]
    private partial void LogApplyFailed(Exception error);
}
