using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Beamline.Pipeline.Telemetry;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beamline.Accounting.Ledger;

/// <summary>
/// The usage ledger: every finished execute, kept in SQLite (<c>usage.db</c>, see
/// <see cref="UsageDatabase"/>), summed per tenant and day for reports and budgets.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Record"/> is called on the request path and never blocks: it offers the record to a
/// bounded in-memory queue and returns. One writer task drains the queue in batches (up to
/// <see cref="UsageLedgerOptions.MaxBatchSize"/>), each written in one transaction: the raw rows and
/// the per-day sums they add to, together, so that the sums always equal the rows.
/// </para>
/// <para>
/// A void call cannot wait for room, so a full queue drops the record: it is counted
/// (<see cref="Dropped"/>, metric <c>beamline.usage.dropped</c>) and logged as an error. The queue's
/// default bound (<see cref="UsageLedgerOptions.QueueCapacity"/>) is far above what a healthy
/// writer lets build up (see docs/benchmarks.md for the sustained rate); drops mean the disk is
/// stalled. A batch that fails to write (disk full, I/O error) is counted in <see cref="Failed"/>
/// and logged; the writer goes on with the next one. Records still queued at disposal are written
/// before it returns.
/// </para>
/// </remarks>
public sealed partial class UsageLedger : IAsyncDisposable
{
    private readonly string _path;
    private readonly TimeSpan _batchWindow;
    private readonly int _maxBatch;
    private readonly Channel<UsageRecord> _queue;
    private readonly SqliteConnection _writerConnection;
    private readonly ILogger _logger;
    private readonly Meter? _meter;
    private readonly Task _writer;
    private TaskCompletionSource _progress = NewSignal();
    private long _accepted;
    private long _processed;
    private long _written;
    private long _failed;
    private long _dropped;
    private int _disposed;

    private UsageLedger(string path, UsageLedgerOptions options, ILogger logger, IMeterFactory? meterFactory)
    {
        _path = path;
        _maxBatch = options.MaxBatchSize;
        _batchWindow = options.BatchWindow;
        _logger = logger;
        _writerConnection = UsageDatabase.Open(path);
        _queue = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite answers false when full: the record is dropped and counted
        });
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(PipelineMetrics.MeterName);
            _meter.CreateObservableCounter("beamline.usage.recorded", () => Written, "{request}", "Usage records written to the ledger.");
            _meter.CreateObservableCounter("beamline.usage.dropped", () => Dropped, "{request}", "Usage records dropped: the ledger's queue was full.");
            _meter.CreateObservableCounter("beamline.usage.failed", () => Failed, "{request}", "Usage records whose batch failed to write.");
        }
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The SQLite file.</summary>
    public string DatabasePath => _path;

    /// <summary>Records written.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Records dropped because the queue was full (or the ledger disposed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records whose batch failed to write.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>
    /// Opens (creating when needed) the ledger at <paramref name="path"/> and starts its writer.
    /// </summary>
    public static UsageLedger Open(string path, UsageLedgerOptions? options = null, ILogger<UsageLedger>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new UsageLedgerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1, nameof(options));
        return new UsageLedger(Path.GetFullPath(path), options, (ILogger?)logger ?? NullLogger.Instance, meterFactory);
    }

    /// <summary>
    /// Queues <paramref name="record"/> for writing. Never blocks, never throws: a full queue drops
    /// the record (counted in <see cref="Dropped"/> and logged); so does a record without a tenant.
    /// </summary>
    public void Record(in UsageRecord record)
    {
        if (string.IsNullOrEmpty(record.TenantId) || record.ProviderId is null || record.RequestId is null)
        {
            Drop("a record without a tenant, provider or request id");
            return;
        }
        if (_queue.Writer.TryWrite(record))
        {
            Interlocked.Increment(ref _accepted);
        }
        else
        {
            Drop("the queue is full");
        }
    }

    /// <summary>Waits until every record queued before this call has been written (or has failed to be).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var target = Interlocked.Read(ref _accepted);
        while (Interlocked.Read(ref _processed) < target)
        {
            var signal = Volatile.Read(ref _progress);
            if (Interlocked.Read(ref _processed) >= target)
            {
                break;
            }
            if (_writer.IsCompleted)
            {
                break; // disposed: nothing more will be written
            }
            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops taking records, writes those queued, and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _writerConnection.DisposeAsync().ConfigureAwait(false);
        _meter?.Dispose();
    }

    /// <summary>Opens a connection for reading (WAL: reads never wait for the writer).</summary>
    internal SqliteConnection OpenReader() => UsageDatabase.OpenExisting(_path);

    private void Drop(string reason)
    {
        var dropped = Interlocked.Increment(ref _dropped);
        // The first drop and then one in ten thousand: a stalled disk must not flood the log too.
        if (dropped == 1 || dropped % 10_000 == 0)
        {
            LogDropped(reason, dropped);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<UsageRecord>(_maxBatch);
        using var writer = new BatchWriter(_writerConnection);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_batchWindow > TimeSpan.Zero && reader.Count < _maxBatch && !reader.Completion.IsCompleted)
            {
                // Gather what arrives in the window: one transaction for all of it.
                await Task.Delay(_batchWindow).ConfigureAwait(false);
            }
            while (batch.Count < _maxBatch && reader.TryRead(out var record))
            {
                batch.Add(record);
            }
            try
            {
                writer.Write(batch);
                Interlocked.Add(ref _written, batch.Count);
            }
            catch (Exception e) when (e is SqliteException or IOException or InvalidOperationException)
            {
                Interlocked.Add(ref _failed, batch.Count);
                LogWriteFailed(e, batch.Count);
            }
            Interlocked.Add(ref _processed, batch.Count);
            batch.Clear();
            Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();
        }
        Interlocked.Exchange(ref _progress, NewSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(1, LogLevel.Error, "Usage records are being dropped ({Reason}): {Dropped} so far. Spend reports and budgets will undercount.")]
    private partial void LogDropped(string reason, long dropped);

    [LoggerMessage(2, LogLevel.Error, "A batch of {Count} usage records could not be written to the ledger.")]
    private partial void LogWriteFailed(Exception exception, int count);
}
