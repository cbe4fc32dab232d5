namespace Beamline.Audit;

/// <summary>The head of the chain: the last durable entry's sequence number and hash.</summary>
/// <param name="Seq">The last entry's sequence number; 0 for an empty log.</param>
/// <param name="Hash">Its hash; <see cref="AuditHash.Genesis"/> for an empty log.</param>
/// <param name="Time">When this head was written.</param>
public sealed record AuditHead(long Seq, string Hash, DateTimeOffset Time);

/// <summary>
/// Anchors the head outside the data directory (e.g. on NATS), so that a log and its head file
/// dropped together can still be caught by whoever kept the published heads.
/// </summary>
public interface IAuditHeadPublisher
{
    /// <summary>
    /// Called by the log's writer after every durable batch. Must not block and must not throw:
    /// a publisher that falls behind keeps only the newest head.
    /// </summary>
    void Publish(AuditHead head);
}
