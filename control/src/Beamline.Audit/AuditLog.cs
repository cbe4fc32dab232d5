using System.Globalization;
using System.Threading.Channels;
using Beamline.Audit.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beamline.Audit;

/// <summary>
/// The hash-chained audit log in a data directory (<c>audit.db</c>, <c>audit.head</c>; docs/audit.md).
/// <see cref="Append"/> only queues: one writer thread drains the queue in batches, gives each
/// record its sequence number and hash in order, inserts the batch in one transaction (WAL,
/// <c>synchronous=FULL</c>), then replaces the head file and hands the head to the
/// <see cref="IAuditHeadPublisher"/>. A full queue makes callers wait; nothing is dropped.
/// Dispose drains the queue. One log per data directory and process.
/// </summary>
public sealed partial class AuditLog : IAuditLog, IAsyncDisposable, IDisposable
{
    /// <summary>The most entries <see cref="Query"/> returns at once.</summary>
    public const int MaxPageSize = 1000;

    private static readonly TimeSpan FullQueuePoll = TimeSpan.FromMilliseconds(50);

    private readonly Channel<AuditRecord> _queue;
    private readonly SqliteConnection _connection;
    private readonly string _databasePath;
    private readonly int _maxBatch;
    private readonly TimeSpan _batchWindow;
    private readonly IAuditHeadPublisher? _publisher;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Thread _writer;
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _closing = new();
    // The writer thread and callers that append synchronously wait on these, never on a task: a
    // blocked thread must not need a thread-pool thread to wake it (two cores, many callers).
    private readonly ManualResetEventSlim _queued = new();
    private readonly ManualResetEventSlim _dequeued = new();
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AuditHead _head;
    private long _reserved;
    private long _settled;
    private long _lost;
    private int _disposed;

    private AuditLog(string dataDirectory, SqliteConnection connection, AuditHead head, AuditOptions options,
        IAuditHeadPublisher? publisher, TimeProvider time, ILogger logger)
    {
        DataDirectory = dataDirectory;
        _databasePath = Path.Combine(dataDirectory, AuditDatabase.FileName);
        _connection = connection;
        _head = head;
        _maxBatch = options.MaxBatch;
        _batchWindow = options.BatchWindow;
        _publisher = publisher;
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<AuditRecord>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "beamline-audit-writer" };
        _writer.Start();
    }

    /// <summary>The directory holding <c>audit.db</c> and <c>audit.head</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The last durable entry (seq 0 and <see cref="AuditHash.Genesis"/> for an empty log).</summary>
    public AuditHead Head => Volatile.Read(ref _head);

    /// <summary>Records that could not be written before the log closed (logged as critical).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>
    /// Opens (or creates) the log in <see cref="AuditOptions.DataDirectory"/> and checks its last entry
    /// against the head file. A table that disagrees with its head (a dropped tail, a replaced last
    /// entry, a missing head file) is logged as critical and recorded in <c>audit.head.broken</c>,
    /// which <see cref="AuditVerifier"/> keeps reporting; the chain then continues from the table's
    /// last entry, so that auditing never stops.
    /// </summary>
    public static AuditLog Open(AuditOptions options, IAuditHeadPublisher? publisher = null, TimeProvider? time = null, ILogger<AuditLog>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new ArgumentException("AuditOptions.DataDirectory must be set.", nameof(options));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatch, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchWindow, TimeSpan.Zero, nameof(options));
        time ??= TimeProvider.System;
        ILogger log = logger ?? (ILogger)NullLogger.Instance;
        var directory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, AuditDatabase.FileName);
        var connection = AuditDatabase.OpenWriter(path);
        try
        {
            var head = CheckHead(directory, connection, time, log);
            var auditLog = new AuditLog(directory, connection, head, options, publisher, time, log);
            auditLog.LogOpened(path, head.Seq);
            return auditLog;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Append(AuditRecord record)
    {
        Check(record);
        Interlocked.Increment(ref _reserved);
        while (!_queue.Writer.TryWrite(record))
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                Interlocked.Decrement(ref _reserved);
                throw Closed(null);
            }
            // The queue is full: wait for the writer to take a batch (back-pressure), never drop.
            // The timeout covers a wake-up another waiting caller reset first.
            _dequeued.Reset();
            if (!_queue.Writer.TryWrite(record))
            {
                _dequeued.Wait(FullQueuePoll);
                continue;
            }
            break;
        }
        Wake();
    }

    /// <inheritdoc />
    public async ValueTask AppendAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        Check(record);
        Interlocked.Increment(ref _reserved);
        try
        {
            await _queue.Writer.WriteAsync(record, cancellationToken).ConfigureAwait(false);
            Wake();
        }
        catch (ChannelClosedException e)
        {
            Interlocked.Decrement(ref _reserved);
            throw Closed(e);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _reserved);
            throw;
        }
    }

    /// <summary>Completes when every record appended before the call is durable (or, on a failing disk while closing, lost).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var target = Interlocked.Read(ref _reserved);
        while (true)
        {
            var progress = Volatile.Read(ref _progress);
            if (Interlocked.Read(ref _settled) >= target || _writerDone.Task.IsCompleted)
            {
                return;
            }
            await Task.WhenAny(progress.Task, _writerDone.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the log: what is queued is written, then the database is closed. Appends after this throw.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _writerDone.Task.ConfigureAwait(false);
            return;
        }
        _queue.Writer.TryComplete();
        _closing.Set();
        _queued.Set();
        await _writerDone.Task.ConfigureAwait(false);
        _connection.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static void Check(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!AuditKinds.IsKnown(record.Kind))
        {
            throw new ArgumentException($"unknown audit kind '{record.Kind}': use one of AuditKinds", nameof(record));
        }
        ArgumentNullException.ThrowIfNull(record.Status, nameof(record));
    }

    private static InvalidOperationException Closed(Exception? inner) => new("the audit log is closed", inner);

    private void Wake()
    {
        if (!_queued.IsSet)
        {
            _queued.Set();
        }
    }

    // The last entry against the head file; on disagreement the evidence is kept, then the head
    // is anchored on the table's last entry.
    private static AuditHead CheckHead(string directory, SqliteConnection connection, TimeProvider time, ILogger logger)
    {
        var (lastSeq, lastHash) = AuditDatabase.Last(connection);
        var current = new AuditHead(lastSeq, lastHash, time.GetUtcNow());
        AuditHead? head;
        string? problem = null;
        long? firstBad = null;
        try
        {
            head = AuditHeadFile.Read(directory);
        }
        catch (InvalidDataException e)
        {
            head = null;
            problem = e.Message;
        }
        if (problem is null && head is null)
        {
            if (lastSeq == 0)
            {
                AuditHeadFile.Write(directory, current); // a new log: anchored before its first entry
                return current;
            }
            problem = string.Create(CultureInfo.InvariantCulture, $"{AuditHeadFile.FileName} is missing while the table holds {lastSeq} entries.");
        }
        else if (head is not null && head.Seq > lastSeq)
        {
            firstBad = lastSeq + 1;
            problem = string.Create(CultureInfo.InvariantCulture,
                $"the table ends at entry {lastSeq} but {AuditHeadFile.FileName} says {head.Seq}: entries {lastSeq + 1} to {head.Seq} were removed.");
        }
        else if (head is not null)
        {
            var stored = head.Seq == 0 ? AuditHash.Genesis : AuditDatabase.HashAt(connection, head.Seq);
            if (!string.Equals(stored, head.Hash, StringComparison.Ordinal))
            {
                firstBad = head.Seq;
                problem = string.Create(CultureInfo.InvariantCulture,
                    $"entry {head.Seq} does not have the hash {AuditHeadFile.FileName} anchors: the chain was rewritten.");
            }
            else if (head.Seq == lastSeq)
            {
                return head;
            }
            else
            {
                AuditHeadFile.Write(directory, current);
                LogReanchoredStatic(logger, lastSeq - head.Seq, lastSeq);
                return current;
            }
        }
        AuditHeadFile.WriteBroken(directory, new AuditBreak(firstBad, problem!, current.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));
        LogBrokenStatic(logger, directory, problem!);
        AuditHeadFile.Write(directory, current);
        return current;
    }
}
