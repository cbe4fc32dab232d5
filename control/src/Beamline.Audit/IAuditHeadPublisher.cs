using System.Globalization;
using System.Text.Json;

namespace Beamline.Audit;

/// <summary>The head of the chain: the last durable entry's sequence number and hash.</summary>
/// <param name="Seq">The last entry's sequence number; 0 for an empty log.</param>
/// <param name="Hash">Its hash; <see cref="AuditHash.Genesis"/> for an empty log.</param>
/// <param name="Time">When this head was written.</param>
public sealed record AuditHead(long Seq, string Hash, DateTimeOffset Time)
{
    /// <summary>
    /// Writes <c>{"seq":N,"hash":"…","time":"…Z"}</c>: the head file's content and what is published
    /// on NATS.
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteNumber("seq", Seq);
        writer.WriteString("hash", Hash);
        writer.WriteString("time", Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        writer.WriteEndObject();
    }
}

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
