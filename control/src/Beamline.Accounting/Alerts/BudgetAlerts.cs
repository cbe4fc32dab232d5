using System.Collections.Concurrent;
using System.Threading.Channels;
using Beamline.Accounting.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beamline.Accounting.Alerts;

/// <summary>
/// Delivers budget alerts: each (tenant, level, id, budget kind, period, threshold) once, to every
/// channel (NATS, webhooks, the activity stream).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Raise"/> never blocks: it drops an alert already raised in this process and queues
/// the rest for one delivery loop. The loop records the alert in <c>alerts_fired</c> (in
/// <c>usage.db</c>) first and delivers it only if it was not there, so that neither a repeated report
/// nor a restart raises it twice. Recording first means an alert is delivered at most once: one
/// whose process dies between the record and the delivery is lost rather than repeated (webhooks,
/// which retry, carry a stable <c>X-Beamline-Delivery</c> id for receivers that dedupe).
/// </para>
/// <para>
/// A channel that fails is logged and the others still get the alert. A full queue (more than
/// <c>queueCapacity</c> alerts waiting) drops the alert, counted in <see cref="Dropped"/>; a later
/// report of the same threshold raises it again.
/// </para>
/// </remarks>
public sealed partial class BudgetAlerts : IAsyncDisposable
{
    // Keys of alerts raised in this process; cleared past this many (the database still dedupes).
    private const int MaxRemembered = 100_000;

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _mark;
    private readonly IBudgetAlertChannel[] _channels;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<BudgetAlert> _queue;
    private readonly ConcurrentDictionary<string, byte> _raised = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TaskCompletionSource _progress = NewSignal();
    private long _accepted;
    private long _processed;
    private long _delivered;
    private long _duplicates;
    private long _dropped;
    private int _disposed;

    private BudgetAlerts(string databasePath, IBudgetAlertChannel[] channels, ILogger logger, int queueCapacity, TimeProvider time)
    {
        _connection = UsageDatabase.Open(databasePath);
        _mark = _connection.CreateCommand();
        _mark.CommandText = """
            INSERT INTO alerts_fired (tenant, level, level_id, kind, period, threshold, fired_at_ms)
            VALUES ($tenant, $level, $id, $kind, $period, $threshold, $at) ON CONFLICT DO NOTHING
            """;
        foreach (var name in (string[])["$tenant", "$level", "$id", "$kind", "$period", "$threshold", "$at"])
        {
            _mark.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        _channels = channels;
        _logger = logger;
        _time = time;
        _queue = Channel.CreateBounded<BudgetAlert>(new BoundedChannelOptions(queueCapacity) { SingleReader = true });
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Alerts delivered (recorded as fired and handed to every channel).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Alerts not delivered because they had been already (in this process or, per <c>alerts_fired</c>, before).</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Alerts dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Opens the alerts over the ledger database <paramref name="databasePath"/> (created when
    /// needed) and starts delivering to <paramref name="channels"/>.
    /// </summary>
    public static BudgetAlerts Open(string databasePath, IEnumerable<IBudgetAlertChannel> channels, ILogger<BudgetAlerts>? logger = null,
        int queueCapacity = 10_000, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        return new BudgetAlerts(Path.GetFullPath(databasePath), [.. channels], (ILogger?)logger ?? NullLogger.Instance, queueCapacity, time ?? TimeProvider.System);
    }

    /// <summary>Raises <paramref name="alert"/> unless it was raised before. Never blocks, never throws.</summary>
    public void Raise(BudgetAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var key = alert.AlertId;
        if (_raised.Count >= MaxRemembered)
        {
            _raised.Clear();
        }
        if (!_raised.TryAdd(key, 0))
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }
        if (_queue.Writer.TryWrite(alert))
        {
            Interlocked.Increment(ref _accepted);
            return;
        }
        _raised.TryRemove(key, out _); // a later report may raise it again
        Interlocked.Increment(ref _dropped);
        LogDropped(alert.TenantId, alert.Level, alert.LevelId, alert.ThresholdPercent);
    }

    /// <summary>Waits until every alert raised before this call has been handled (delivered or found a duplicate).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _processed) < target && !_loop.IsCompleted)
        {
            var signal = Volatile.Read(ref _progress);
            if (Interlocked.Read(ref _processed) >= target)
            {
                break;
            }
            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops taking alerts, delivers those queued (for up to 10 seconds), then disposes the channels
    /// that are disposable (the alerts own their channels).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        _stop.CancelAfter(TimeSpan.FromSeconds(10));
        await _loop.ConfigureAwait(false);
        foreach (var channel in _channels)
        {
            if (channel is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
        _mark.Dispose();
        await _connection.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out var alert))
            {
                try
                {
                    if (MarkFired(alert))
                    {
                        await DeliverAsync(alert, token).ConfigureAwait(false);
                        Interlocked.Increment(ref _delivered);
                    }
                    else
                    {
                        Interlocked.Increment(ref _duplicates);
                    }
                }
                catch (SqliteException e)
                {
                    _raised.TryRemove(alert.AlertId, out _); // not recorded: a later report may raise it
                    LogRecordFailed(e, alert.TenantId, alert.Level, alert.LevelId, alert.ThresholdPercent);
                }
                Interlocked.Increment(ref _processed);
                Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();
            }
        }
        Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();
    }

    // True when this is the first time the alert is recorded.
    private bool MarkFired(BudgetAlert alert)
    {
        var p = _mark.Parameters;
        p[0].Value = alert.TenantId;
        p[1].Value = alert.Level;
        p[2].Value = alert.LevelId;
        p[3].Value = alert.BudgetKind;
        p[4].Value = alert.Period;
        p[5].Value = alert.ThresholdPercent;
        p[6].Value = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return _mark.ExecuteNonQuery() == 1;
    }

    private async Task DeliverAsync(BudgetAlert alert, CancellationToken token)
    {
        var json = BudgetAlertJson.ToUtf8Bytes(alert);
        LogAlert(alert.TenantId, alert.BudgetKind, alert.Level, alert.LevelId, alert.ThresholdPercent, alert.Period);
        foreach (var channel in _channels)
        {
            try
            {
                await channel.DeliverAsync(alert, json, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogChannelFailed(e, channel.Name, alert.TenantId, alert.ThresholdPercent);
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(1, LogLevel.Warning, "Budget alert of tenant '{TenantId}': the {Kind} budget of {Level} '{LevelId}' crossed {Threshold}% in {Period}.")]
    private partial void LogAlert(string tenantId, string kind, string level, string levelId, int threshold, string period);

    [LoggerMessage(2, LogLevel.Error, "A budget alert of tenant '{TenantId}' ({Level} '{LevelId}', {Threshold}%) was dropped: the alert queue is full.")]
    private partial void LogDropped(string tenantId, string level, string levelId, int threshold);

    [LoggerMessage(3, LogLevel.Error, "A budget alert of tenant '{TenantId}' ({Level} '{LevelId}', {Threshold}%) could not be recorded; it was not delivered.")]
    private partial void LogRecordFailed(Exception exception, string tenantId, string level, string levelId, int threshold);

    [LoggerMessage(4, LogLevel.Error, "Budget alert channel '{Channel}' failed to take an alert of tenant '{TenantId}' ({Threshold}%).")]
    private partial void LogChannelFailed(Exception exception, string channel, string tenantId, int threshold);
}
