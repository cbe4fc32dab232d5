namespace Beamline.Audit;

/// <summary>Where audit records go. Thread-safe; appends never lose a record silently.</summary>
public interface IAuditLog
{
    /// <summary>
    /// Queues <paramref name="record"/> to be written and returns: the write is batched and durable
    /// shortly after. When the queue is full the call waits (back-pressure) rather than drop it.
    /// Throws <see cref="InvalidOperationException"/> once the log is closed.
    /// </summary>
    void Append(AuditRecord record);

    /// <summary>As <see cref="Append"/>, waiting asynchronously when the queue is full.</summary>
    ValueTask AppendAsync(AuditRecord record, CancellationToken cancellationToken);
}
