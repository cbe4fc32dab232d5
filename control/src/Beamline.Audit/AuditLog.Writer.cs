using Beamline.Audit.Internal;
using Microsoft.Data.Sqlite;

namespace Beamline.Audit;

public sealed partial class AuditLog
{
    // Attempts at a failing batch while the log closes, before its records are given up as lost.
    private const int AttemptsWhileClosing = 3;

    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private const string InsertSql = "INSERT INTO audit (" + AuditDatabase.Columns + ") VALUES "
        + "($seq, $time, $kind, $tenant, $key, $request, $provider, $policy, $status, $cost, $input, $output, $request_sha, $response_sha, $action, $actor, $prev, $hash);";

    // The writer thread: the only one that touches the connection (besides Open and Dispose).
    private void WriteLoop()
    {
        var batch = new List<AuditRecord>(Math.Min(_maxBatch, 4096));
        var encoder = new AuditHash.Encoder();
        var reader = _queue.Reader;
        try
        {
            using var insert = PrepareInsert();
            while (true)
            {
                while (batch.Count < _maxBatch && reader.TryRead(out var record))
                {
                    batch.Add(record);
                }
                if (batch.Count > 0 && batch.Count < _maxBatch && _batchWindow > TimeSpan.Zero && !_closing.IsSet)
                {
                    // Gather what arrives in the window: one commit (three fsyncs) for all of it.
                    _closing.Wait(_batchWindow);
                    while (batch.Count < _maxBatch && reader.TryRead(out var record))
                    {
                        batch.Add(record);
                    }
                }
                if (batch.Count == 0)
                {
                    if (reader.Completion.IsCompleted)
                    {
                        break; // closed and drained
                    }
                    // Reset, then look again: a record queued in between is not slept through.
                    _queued.Reset();
                    if (reader.TryPeek(out _) || reader.Completion.IsCompleted)
                    {
                        continue;
                    }
                    _queued.Wait();
                    continue;
                }
                _dequeued.Set();
                WriteWithRetry(insert, encoder, batch);
                batch.Clear();
            }
        }
#pragma warning disable CA1031 // the writer is a dedicated thread: an exception escaping it would end the process
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            LogWriterStopped(e);
        }
        finally
        {
            _writerDone.TrySetResult();
        }
    }

    private void WriteWithRetry(SqliteCommand insert, AuditHash.Encoder encoder, List<AuditRecord> batch)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                WriteBatch(insert, encoder, batch);
                break;
            }
#pragma warning disable CA1031 // the writer is a dedicated thread: an exception escaping it would end the process
            catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
            {
                LogWriteFailed(e, attempt);
                // Disk and database trouble is waited out (appends fail closed meanwhile); anything else is a
                // batch that cannot be written as it is: after a few tries it is counted lost, loudly, and the log goes on.
                var transient = e is SqliteException or IOException or InvalidOperationException;
                if ((_closing.IsSet || !transient) && attempt >= AttemptsWhileClosing)
                {
                    Interlocked.Add(ref _lost, batch.Count);
                    LogLost(batch.Count);
                    Settle(batch.Count);
                    return;
                }
                _closing.Wait(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
        var head = Volatile.Read(ref _head);
        try
        {
            AuditHeadFile.Write(DataDirectory, head);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogHeadFailed(e);
        }
        if (_publisher is not null)
        {
            try
            {
                _publisher.Publish(head);
            }
#pragma warning disable CA1031 // a publisher's failure must never stop the audit writer
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogPublishFailed(e);
            }
        }
        Settle(batch.Count);
    }

    // Assigns sequence numbers and hashes in order and inserts the batch in one transaction; the
    // head moves only once it is committed (a failed attempt is retried from the table's end).
    private void WriteBatch(SqliteCommand insert, AuditHash.Encoder encoder, List<AuditRecord> batch)
    {
        var now = _time.GetUtcNow();
        // IMMEDIATE: the write lock first, then the chain's real end, so that another process on
        // the same file (which should not be, but may) interleaves into one chain, not two.
        using var transaction = _connection.BeginTransaction(deferred: false);
        var (seq, prev) = AuditDatabase.Last(_connection, transaction);
        insert.Transaction = transaction;
        var parameters = insert.Parameters;
        foreach (var record in batch)
        {
            var entry = ToEntry(record, ++seq, prev, now);
            var hash = encoder.Hash(entry);
            parameters[0].Value = entry.Seq;
            parameters[1].Value = entry.Time.ToUnixTimeMilliseconds();
            parameters[2].Value = entry.Kind;
            parameters[3].Value = (object?)entry.TenantId ?? DBNull.Value;
            parameters[4].Value = (object?)entry.KeyId ?? DBNull.Value;
            parameters[5].Value = (object?)entry.RequestId ?? DBNull.Value;
            parameters[6].Value = (object?)entry.ProviderId ?? DBNull.Value;
            parameters[7].Value = (object?)entry.PolicyId ?? DBNull.Value;
            parameters[8].Value = entry.Status;
            parameters[9].Value = entry.CostNanos;
            parameters[10].Value = entry.InputTokens;
            parameters[11].Value = entry.OutputTokens;
            parameters[12].Value = (object?)entry.RequestSha256 ?? DBNull.Value;
            parameters[13].Value = (object?)entry.ResponseSha256 ?? DBNull.Value;
            parameters[14].Value = (object?)entry.Action ?? DBNull.Value;
            parameters[15].Value = (object?)entry.Actor ?? DBNull.Value;
            parameters[16].Value = entry.PrevHash;
            parameters[17].Value = hash;
            insert.ExecuteNonQuery();
            prev = hash;
        }
        transaction.Commit();
        insert.Transaction = null;
        Volatile.Write(ref _head, new AuditHead(seq, prev, _time.GetUtcNow()));
    }

    private static AuditEntry ToEntry(AuditRecord record, long seq, string prev, DateTimeOffset now)
    {
        var time = record.Time == default ? now : record.Time;
        return new AuditEntry
        {
            Seq = seq,
            // Millisecond precision, UTC: what the table stores is what was hashed.
            Time = DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds()),
            Kind = record.Kind,
            TenantId = record.TenantId,
            KeyId = record.KeyId,
            RequestId = record.RequestId,
            ProviderId = record.ProviderId,
            PolicyId = record.PolicyId,
            Status = record.Status,
            CostNanos = record.CostNanos,
            InputTokens = record.InputTokens,
            OutputTokens = record.OutputTokens,
            RequestSha256 = record.RequestSha256,
            ResponseSha256 = record.ResponseSha256,
            Action = record.Action,
            Actor = record.Actor,
            PrevHash = prev,
            Hash = "",
        };
    }

    private SqliteCommand PrepareInsert()
    {
        var command = _connection.CreateCommand();
        command.CommandText = InsertSql;
        foreach (var name in (string[])["$seq", "$time", "$kind", "$tenant", "$key", "$request", "$provider", "$policy", "$status",
            "$cost", "$input", "$output", "$request_sha", "$response_sha", "$action", "$actor", "$prev", "$hash"])
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }

    // Counts records as done (written or lost) and wakes FlushAsync.
    private void Settle(int count)
    {
        Interlocked.Add(ref _settled, count);
        Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
