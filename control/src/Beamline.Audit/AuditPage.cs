namespace Beamline.Audit;

/// <summary>One page of <see cref="AuditLog.Query"/>.</summary>
/// <param name="Entries">The entries, in sequence order.</param>
/// <param name="NextAfter">The cursor for the next page (pass it as <c>afterSeq</c>), or null when this is the last.</param>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, long? NextAfter);
