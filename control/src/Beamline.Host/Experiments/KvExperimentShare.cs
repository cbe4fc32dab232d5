using System.Collections.Concurrent;
using System.Threading.Channels;
using Beamline.Experiments;
using Beamline.SharedState;
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
/// <c>experiment-figures.&lt;tenant&gt;.&lt;id&gt;.&lt;instance&gt;</c>, published every second while they
/// change; every control plane adds them up exactly (<see cref="ArmState.Combine"/>);</item>
/// <item>the looks on those totals: a look's verdict is written over the record's revision it was
/// taken on (compare-and-set), so each look is taken once for all control planes and its promotion
/// audited once, by the control plane that wrote it; the others take it from the watch.</item>
/// </list>
/// </summary>
internal sealed partial class KvExperimentShare(SharedStateConnection connection, ExperimentRegistry registry, ILogger<KvExperimentShare> logger)
    : BackgroundService
{
    private const string RecordPrefix = "experiment.";
    private const string FiguresPrefix = "experiment-figures.";

    /// <summary>How often figures are published and looked at.</summary>
    internal static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly string _self = connection.Options.InstanceId;
    // The records' revisions as last seen: a verdict is written only over the revision it was taken on.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ulong> _revisions = new();
    // The other control planes' figures, by experiment and instance.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ConcurrentDictionary<string, ArmState[]>> _others = new();
    // What this control plane published last, by experiment.
    private readonly ConcurrentDictionary<(string Tenant, string Id), ArmState[]> _published = new();
    private readonly Channel<(string Tenant, string Id)> _changes = Channel.CreateUnbounded<(string, string)>();

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!await Task.Run(() => connection.IsShared, stoppingToken).ConfigureAwait(false))
        {
            return;
        }
        registry.ShareLooks();
        registry.Changed += OnLocalChange;
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
        }
    }

    private void OnLocalChange(string tenantId, string id) => _changes.Writer.TryWrite((tenantId, id));

    // Experiments restored from this control plane's file: the bucket's record wins, and their
    // figures are there already (the previous process published them under its own name), so the
    // local copy is cleared; one the bucket lacks goes into it with its figures.
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
                    var created = await store.TryCreateAsync(key, Record(experiment, experiment.Verdict), cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (!created.Success)
                    {
                        experiment.ClearLocal();
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
            if (entry.Operation != NatsKVOperation.Put || entry.Value is null)
            {
                _revisions.TryRemove((tenantId, id), out _);
                _others.TryRemove((tenantId, id), out _);
                registry.ApplyRemoteDelete(tenantId, id);
                continue;
            }
            ExperimentSnapshot snapshot;
            try
            {
                snapshot = ExperimentStateFile.FromJson(entry.Value);
            }
            catch (FormatException error)
            {
                LogBadRecord(entry.Key, error.Message);
                continue;
            }
            _revisions[(tenantId, id)] = entry.Revision;
            registry.ApplyRemote(snapshot);
        }
    }

    private async Task WatchFiguresAsync(CancellationToken cancellationToken)
    {
        var store = await connection.CountersAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var entry in store.WatchAsync<byte[]>(FiguresPrefix + ">", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (SplitKey(entry.Key, FiguresPrefix, 3) is not [var tenantId, var id, var instance] || instance == _self)
            {
                continue;
            }
            var byInstance = _others.GetOrAdd((tenantId, id), static _ => new(StringComparer.Ordinal));
            if (entry.Operation != NatsKVOperation.Put || entry.Value is null)
            {
                byInstance.TryRemove(instance, out _);
                continue;
            }
            try
            {
                byInstance[instance] = ExperimentStateFile.ArmsFromJson(entry.Value);
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
                    _revisions[change] = await records.PutAsync(key, Record(experiment, experiment.Verdict), cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await records.DeleteAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                    // Every control plane's figures of it go with it.
                    var instances = _others.TryRemove(change, out var others) ? others.Keys.ToList() : [];
                    instances.Add(_self);
                    foreach (var instance in instances)
                    {
                        await figures.DeleteAsync(FiguresKey(change.Tenant, change.Id, instance), cancellationToken: cancellationToken).ConfigureAwait(false);
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

    // Publishes this control plane's figures of one experiment (when they changed), adds up
    // everyone's, and writes the verdict of a look that is due over the record it was taken on.
    private async Task ShareAsync(Experiment experiment, INatsKVStore records, INatsKVStore figures, CancellationToken cancellationToken)
    {
        var definition = experiment.Definition;
        var key = (definition.TenantId, definition.Id);
        var local = experiment.LocalStates();
        if (!_published.TryGetValue(key, out var published) || !published.SequenceEqual(local))
        {
            await figures.PutAsync(FiguresKey(key.TenantId, key.Id, _self), ExperimentStateFile.ArmsToJson(local), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            _published[key] = local;
        }
        var total = local;
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
        if (experiment.LookAt(total, registry.Time.GetUtcNow()) is not { } verdict || !_revisions.TryGetValue(key, out var revision))
        {
            return;
        }
        try
        {
            _revisions[key] = await records.UpdateAsync(RecordKey(key.TenantId, key.Id), Record(experiment, verdict), revision, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
        catch (NatsKVWrongLastRevisionException)
        {
            return; // another control plane took this look (or the record changed): the watch brings it
        }
        registry.ApplyVerdict(experiment, verdict, decidedHere: true);
        LogLook(definition.TenantId, definition.Id, verdict.Looks, verdict.Status.ToString().ToLowerInvariant());
    }

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
