namespace Beamline.Audit;

/// <summary>Where the audit log lives and how it batches (<c>Beamline:Audit</c>).</summary>
public sealed class AuditOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Beamline:Audit";

    /// <summary>
    /// The directory holding <c>audit.db</c> and <c>audit.head</c>. Defaults to null: the host uses
    /// its data directory.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>
    /// Records queued for the writer at most; a caller appending to a full queue waits. Defaults to 65536.
    /// </summary>
    public int QueueCapacity { get; set; } = 65_536;

    /// <summary>
    /// Records written in one transaction (and one fsync) at most; a batch is whatever is queued
    /// up to this, so it only grows under load. Defaults to 4096.
    /// </summary>
    public int MaxBatch { get; set; } = 4096;

    /// <summary>
    /// After a batch's first record, how long the writer gathers more before it commits. Each commit
    /// costs three fsyncs (the WAL and the head file, then its directory), so at a steady trickle a
    /// commit per record would cost more than the requests it records; a few milliseconds of
    /// gathering make one commit out of many. Off the request path: appends do not wait for it.
    /// Defaults to 2 ms; zero commits what is queued at once.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// The NATS subject the head is published on after every batch, when NATS is configured;
    /// empty: not published. Defaults to <c>beamline.audit.v1.head</c>.
    /// </summary>
    public string HeadSubject { get; set; } = "beamline.audit.v1.head";
}
