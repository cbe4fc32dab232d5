using System.Collections.Concurrent;
using System.Threading.Channels;
using Beamline.Experiments;
using Beamline.Host.State;
using Beamline.SharedState;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.KeyValueStore;

namespace Beamline.Host.Experiments;

/// <summary>
/// Experiments shared by every control plane on one NATS (docs/shared-state.md, "Experiments"):
/// <list type="bullet">
/// <item>the record (definition, status, winner, looks) in the configuration bucket, key
/// <c>experiment.&lt;tenant&gt;.&lt;id&gt;</c>: a create, stop or delete on one control plane is live on
/// the others through the watch;</item>
/// <item>each control plane's own figures in the counters bucket, key
/// <c>experiment-figures.&lt;tenant&gt;.&lt;id&gt;.&lt;figures id&gt;</c>, published every second while they
/// change; every control plane adds them up exactly (<see cref="ArmState.Combine"/>). The figures
/// id is kept in the data directory, so a restarted control plane goes on under the same key with
/// the figures its <c>experiments.json</c> restored (nothing is counted twice);</item>
/// <item>the looks on those totals: look k+1 is written only over the record that holds look k, at
/// its revision (compare-and-set), so each look is taken once for all control planes and its
/// promotion audited once, by the control plane whose write won (also when its reply was lost:
/// it knows its own verdict when the watch brings it); the others take it from the watch.</item>
/// </list>
/// Records only move an experiment forward (<see cref="Experiment.Apply"/>), and a record older
/// than the last one seen, or one of an experiment deleted here and not yet deleted in the
/// bucket, is skipped: a late record never undoes a stop or a delete.
/// </summary>
internal sealed partial class KvExperimentShare(
    SharedStateConnection connection, ExperimentRegistry registry, IServiceProvider services, ILogger<KvExperimentShare> logger)
    : BackgroundService
{
    private const string RecordPrefix = "experiment.";
    private const string FiguresPrefix = "experiment-figures.";
    private const string FiguresIdFile = "experiments.figures-id";

    /// <summary>How often figures are published and looked at.</summary>
    internal static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private string _figuresId = "";
    // The last record seen of each experiment: its revision and looks (a look is written only over the record of the look before it).
    private readonly ConcurrentDictionary<(string Tenant, string Id), (ulong Revision, int Looks)> _records = new();
    // Deleted here, not yet seen deleted in the bucket: its records are skipped.
    private readonly ConcurrentDictionary<(string Tenant, string Id), bool> _deleted = new();
    // Verdicts this control plane is writing: the one that finds its own in the bucket records the promotion.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ExperimentVerdict> _attempts = new();
    // The other control planes' figures, by experiment and figures id.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ConcurrentDictionary<string, ArmState[]>> _others = new();
    // What this control plane published last, by experiment.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ArmState[]> _published = new();
    private readonly Channel<(string Tenant, string Id)> _changes = Channel.CreateUnbounded<(string, string)>();

    /// <inheritdoc />
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before traffic: no look is taken on this control plane's figures alone, and no admin
        // change goes unpublished (queued until NATS is reached).
        registry.ShareLooks();
        registry.Changed += OnLocalChange;
        _figuresId = FiguresId();
        return base.StartAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        // The last second's figures (the file has them too; the bucket should not lag behind it).
        if (connection.IsConnected && !connection.NoJetStream)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var figures = await connection.CountersAsync(timeout.Token).ConfigureAwait(false);
                foreach (var experiment in registry.All())
                {
                    await PublishFiguresAsync(experiment, figures, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception error) when (error is OperationCanceledException or NATS.Client.Core.NatsException)
            {
                LogShareFailed("the last publish", error.Message);
            }
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!await Task.Run(() => connection.IsShared, stoppingToken).ConfigureAwait(false))
        {
            registry.Changed -= OnLocalChange;
            registry.ShareLooks(false); // NATS without JetStream: each control plane looks on its own
            return;
        }
        try
        {
            await SeedAsync(stoppingToken).ConfigureAwait(false);
            await Task.WhenAll(
                KeepWatchingAsync(WatchRecordsAsync, stoppingToken),
                KeepWatchingAsync(WatchFiguresAsync, stoppingToken),
                KeepWatchingAsync(PublishChangesAsync, stoppingToken),
                KeepWatchingAsync(LookLoopAsync, stoppingToken)).ConfigureAwait(false);
        }
        finally
        {
            registry.Changed -= OnLocalChange;
            if (connection.NoJetStream)
            {
                registry.ShareLooks(false);
            }
        }
    }

    private void OnLocalChange(string tenantId, string id)
    {
        if (!registry.TryGet(tenantId, id, out _))
        {
            _deleted[(tenantId, id)] = true;
        }
        _changes.Writer.TryWrite((tenantId, id));
    }

    // This control plane's figures id: kept in the data directory, made on first use.
    private string FiguresId()
    {
        var directory = services.GetService<StateDirectories>()?.DataDirectory;
        if (directory is null)
        {
            return connection.Options.InstanceId;
        }
        var path = Path.Combine(directory, FiguresIdFile);
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } kept)
        {
            return kept;
        }
        var made = Guid.NewGuid().ToString("N");
        File.WriteAllText(path, made);
        return made;
    }

    // Experiments restored from this control plane's file: the bucket's record wins (the watch
    // brings it); one deleted in the bucket meanwhile is deleted here; one the bucket never had is put there.
    private async Task SeedAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var store = await connection.ConfigAsync(cancellationToken).ConfigureAwait(false);
                foreach (var experiment in registry.All())
                {
                    var definition = experiment.Definition;
                    var key = RecordKey(definition.TenantId, definition.Id);
                    try
                    {
                        await store.GetEntryAsync<byte[]>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    catch (NatsKVKeyDeletedException)
                    {
                        registry.ApplyRemoteDelete(definition.TenantId, definition.Id);
                    }
                    catch (NatsKVKeyNotFoundException)
                    {
                        await store.TryCreateAsync(key, Record(experiment, experiment.Verdict), cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                }
                return;
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                if (connection.NoJetStream)
                {
                    return;
                }
                LogShareFailed("seeding", error.Message);
                await Task.Delay(Tick, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task KeepWatchingAsync(Func<CancellationToken, Task> loop, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && !connection.NoJetStream)
        {
            try
            {
                await loop(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Restarted: NATS may come back.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogShareFailed(loop.Method.Name, error.Message);
                await Task.Delay(Tick, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task WatchRecordsAsync(CancellationToken cancellationToken)
    {
        var store = await connection.ConfigAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var entry in store.WatchAsync<byte[]>(RecordPrefix + ">", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (SplitKey(entry.Key, RecordPrefix, 2) is not [var tenantId, var id])
            {
                continue;
            }
            var key = (tenantId, id);
            if (_records.TryGetValue(key, out var seen) && entry.Revision <= seen.Revision)
            {
                continue; // older than what this control plane has (a replay, or its own write come back)
            }
            try
            {
                ApplyRecord(key, entry);
            }
#pragma warning disable CA1031 // One unreadable record must not stop the others.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogBadRecord(entry.Key, error.Message);
            }
        }
    }

    private void ApplyRecord((string Tenant, string Id) key, NatsKVEntry<byte[]> entry)
    {
        if (entry.Operation != NatsKVOperation.Put || entry.Value is null)
        {
            _deleted.TryRemove(key, out _);
            _records[key] = (entry.Revision, -1);
            _others.TryRemove(key, out _);
            _published.TryRemove(key, out _);
            registry.ApplyRemoteDelete(key.Tenant, key.Id);
            return;
        }
        if (_deleted.ContainsKey(key))
        {
            return; // deleted here; the bucket's delete is on its way
        }
        var snapshot = ExperimentStateFile.FromJson(entry.Value);
        if (snapshot.Definition.TenantId != key.Tenant || snapshot.Definition.Id != key.Id)
        {
            throw new FormatException("the record names another tenant or experiment than its key");
        }
        var verdict = new ExperimentVerdict(snapshot.Status, snapshot.Winner, snapshot.Looks, snapshot.LastThreshold, snapshot.EndedAt);
        var mine = _attempts.TryRemove(key, out var attempted) && attempted == verdict;
        registry.ApplyRemote(snapshot, decidedHere: mine);
        Seen(key, entry.Revision, snapshot.Looks);
    }

    private async Task WatchFiguresAsync(CancellationToken cancellationToken)
    {
        var store = await connection.CountersAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var entry in store.WatchAsync<byte[]>(FiguresPrefix + ">", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (SplitKey(entry.Key, FiguresPrefix, 3) is not [var tenantId, var id, var figuresId] || figuresId == _figuresId)
            {
                continue;
            }
            if (entry.Operation != NatsKVOperation.Put || entry.Value is null)
            {
                if (_others.TryGetValue((tenantId, id), out var known))
                {
                    known.TryRemove(figuresId, out _);
                }
                continue;
            }
            try
            {
                _others.GetOrAdd((tenantId, id), static _ => new(StringComparer.Ordinal))[figuresId] = ExperimentStateFile.ArmsFromJson(entry.Value);
            }
            catch (FormatException error)
            {
                LogBadRecord(entry.Key, error.Message);
            }
        }
    }

    // Local creates, stops and deletes, written to the bucket in the order they happened.
    private async Task PublishChangesAsync(CancellationToken cancellationToken)
    {
        var records = await connection.ConfigAsync(cancellationToken).ConfigureAwait(false);
        var figures = await connection.CountersAsync(cancellationToken).ConfigureAwait(false);
        while (await _changes.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (_changes.Reader.TryPeek(out var change))
            {
                var key = RecordKey(change.Tenant, change.Id);
                if (registry.TryGet(change.Tenant, change.Id, out var experiment))
                {
                    _deleted.TryRemove(change, out _); // made again here after a delete
                    var verdict = experiment.Verdict;
                    var revision = await records.PutAsync(key, Record(experiment, verdict), cancellationToken: cancellationToken).ConfigureAwait(false);
                    Seen(change, revision, verdict.Looks);
                }
                else
                {
                    await records.DeleteAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                    // Every control plane's figures of it go with it.
                    var ids = _others.TryRemove(change, out var others) ? others.Keys.ToList() : [];
                    ids.Add(_figuresId);
                    foreach (var figuresId in ids)
                    {
                        await figures.DeleteAsync(FiguresKey(change.Tenant, change.Id, figuresId), cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    _published.TryRemove(change, out _);
                }
                _changes.Reader.TryRead(out _); // done: a failure above leaves it for the next try
            }
        }
    }

    private async Task LookLoopAsync(CancellationToken cancellationToken)
    {
        var records = await connection.ConfigAsync(cancellationToken).ConfigureAwait(false);
        var figures = await connection.CountersAsync(cancellationToken).ConfigureAwait(false);
        using var timer = new PeriodicTimer(Tick);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var experiment in registry.All())
            {
                await ShareAsync(experiment, records, figures, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Publishes this control plane's figures of one experiment when they changed; returns them.
    private async Task<ArmState[]> PublishFiguresAsync(Experiment experiment, INatsKVStore figures, CancellationToken cancellationToken)
    {
        var key = (experiment.Definition.TenantId, experiment.Definition.Id);
        var local = experiment.LocalStates();
        if (!_deleted.ContainsKey(key) && (!_published.TryGetValue(key, out var published) || !published.SequenceEqual(local)))
        {
            await figures.PutAsync(FiguresKey(key.TenantId, key.Id, _figuresId), ExperimentStateFile.ArmsToJson(local), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            _published[key] = local;
        }
        return local;
    }

    // Publishes this control plane's figures of one experiment, adds up everyone's, and writes the
    // verdict of a look that is due over the record of the look before it.
    private async Task ShareAsync(Experiment experiment, INatsKVStore records, INatsKVStore figures, CancellationToken cancellationToken)
    {
        var definition = experiment.Definition;
        var key = (definition.TenantId, definition.Id);
        var total = await PublishFiguresAsync(experiment, figures, cancellationToken).ConfigureAwait(false);
        if (_others.TryGetValue(key, out var others))
        {
            foreach (var arms in others.Values)
            {
                if (arms.Length == total.Length)
                {
                    total = [.. total.Zip(arms, ArmState.Combine)];
                }
            }
        }
        if (experiment.LookAt(total, registry.Time.GetUtcNow()) is not { } verdict
            || !_records.TryGetValue(key, out var record) || verdict.Looks != record.Looks + 1)
        {
            return;
        }
        _attempts[key] = verdict;
        ulong revision;
        try
        {
            revision = await records.UpdateAsync(RecordKey(key.TenantId, key.Id), Record(experiment, verdict), record.Revision, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
        catch (NatsKVWrongLastRevisionException)
        {
            _attempts.TryRemove(key, out _);
            return; // another control plane took this look (or the record changed): the watch brings it
        }
        // Whoever takes the attempt first, this or the watch bringing the write back, records the promotion.
        registry.ApplyVerdict(experiment, verdict, decidedHere: _attempts.TryRemove(key, out _));
        Seen(key, revision, verdict.Looks);
        LogLook(definition.TenantId, definition.Id, verdict.Looks, verdict.Status.ToString().ToLowerInvariant());
    }

    // Remembers a record of the experiment unless a later one is remembered already.
    private void Seen((string Tenant, string Id) key, ulong revision, int looks)
        => _records.AddOrUpdate(key, (revision, looks), (_, old) => revision > old.Revision ? (revision, looks) : old);

    // The shared record: the experiment with the verdict, without figures (they are per instance).
    private static byte[] Record(Experiment experiment, ExperimentVerdict verdict) => ExperimentStateFile.ToJson(new ExperimentSnapshot
    {
        Definition = experiment.Definition,
        CreatedAt = experiment.CreatedAt,
        Status = verdict.Status,
        Winner = verdict.Winner,
        Looks = verdict.Looks,
        LastThreshold = verdict.LastThreshold,
        EndedAt = verdict.EndedAt,
        Arms = [.. Enumerable.Repeat(ArmState.Empty, experiment.Definition.Arms.Length)],
    });

    private static string RecordKey(string tenantId, string id) => RecordPrefix + KvKeys.Token(tenantId) + "." + KvKeys.Token(id);

    private static string FiguresKey(string tenantId, string id, string instance)
        => FiguresPrefix + KvKeys.Token(tenantId) + "." + KvKeys.Token(id) + "." + KvKeys.Token(instance);

    private static string[]? SplitKey(string key, string prefix, int parts)
    {
        var tokens = key[prefix.Length..].Split('.');
        return tokens.Length == parts ? [.. tokens.Select(KvKeys.Id)] : null;
    }

    [LoggerMessage(1, LogLevel.Warning, "Experiments: {Step} failed ({Message}); trying again.")]
    private partial void LogShareFailed(string step, string message);

    [LoggerMessage(2, LogLevel.Warning, "Experiments: the shared entry {Key} is not readable ({Message}); skipped.")]
    private partial void LogBadRecord(string key, string message);

    [LoggerMessage(3, LogLevel.Information, "Experiment '{Id}' of tenant '{TenantId}': look {Looks} on every control plane's figures: {Status}.")]
    private partial void LogLook(string tenantId, string id, int looks, string status);
}
