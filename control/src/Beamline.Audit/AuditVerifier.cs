using System.Globalization;
using Beamline.Audit.Internal;
using Microsoft.Data.Sqlite;

namespace Beamline.Audit;

/// <summary>What <see cref="AuditVerifier.Verify"/> found.</summary>
public sealed record AuditVerification
{
    /// <summary>True when every entry and the head check out.</summary>
    public required bool Ok { get; init; }

    /// <summary>Entries read (up to the first bad one).</summary>
    public required long Entries { get; init; }

    /// <summary>The first entry that is wrong or missing; null when the log is intact or the problem names no entry (a missing head file).</summary>
    public long? FirstBadSeq { get; init; }

    /// <summary>What is wrong, in a sentence; null when intact.</summary>
    public string? Problem { get; init; }

    /// <summary>The table's last entry (seq and hash) when intact.</summary>
    public AuditHead? Head { get; init; }

    /// <summary>Something an intact log's reader should know (entries after the head file's), or null.</summary>
    public string? Warning { get; init; }
}

/// <summary>
/// Checks an audit log offline (or beside a running host): every entry's hash recomputed in
/// sequence order, sequence numbers without gaps (a deletion), each <c>prev_hash</c> linking to the
/// entry before (a reordering), and the head file against the last entry (a dropped tail, or a
/// chain rewritten from some entry on). Rows are streamed, never all held in memory.
/// </summary>
public static class AuditVerifier
{
    /// <summary>
    /// Verifies the log in <paramref name="dataDirectory"/>. Throws <see cref="FileNotFoundException"/>
    /// when it holds no <c>audit.db</c>.
    /// </summary>
    public static AuditVerification Verify(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var directory = Path.GetFullPath(dataDirectory);
        var path = Path.Combine(directory, AuditDatabase.FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist: not an audit data directory", path);
        }
        // The head first: a running writer commits before it moves the head, so the table read
        // afterwards is never behind it unless entries were removed.
        AuditHead? head = null;
        string? headProblem = null;
        try
        {
            head = AuditHeadFile.Read(directory);
        }
        catch (InvalidDataException e)
        {
            headProblem = e.Message;
        }
        var broken = AuditHeadFile.ReadBroken(directory);

        var entries = 0L;
        var prev = AuditHash.Genesis;
        var encoder = new AuditHash.Encoder();
        try
        {
            using var connection = AuditDatabase.OpenReader(path);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT " + AuditDatabase.Columns + " FROM audit ORDER BY seq;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var expected = entries + 1;
                var entry = AuditDatabase.ReadEntry(reader);
                if (entry.Seq != expected)
                {
                    return Broken(entries, expected, entry.Seq > expected
                        ? Text($"entry {expected} is missing (the next is {entry.Seq}): entries were deleted")
                        : Text($"entry {expected} has sequence number {entry.Seq}"));
                }
                if (!string.Equals(entry.PrevHash, prev, StringComparison.Ordinal))
                {
                    return Broken(entries, expected, Text($"its prev_hash does not link to entry {expected - 1}: entries were reordered or replaced"));
                }
                if (!string.Equals(encoder.Hash(entry), entry.Hash, StringComparison.Ordinal))
                {
                    return Broken(entries, expected, "its hash does not match its content: the entry was edited");
                }
                if (head is not null && head.Seq == entry.Seq && !string.Equals(head.Hash, entry.Hash, StringComparison.Ordinal))
                {
                    return Broken(entries, expected, Text($"its hash differs from the one {AuditHeadFile.FileName} anchors: the chain was rewritten"));
                }
                prev = entry.Hash;
                entries = expected;
            }
        }
        catch (Exception e) when (e is SqliteException or InvalidCastException or FormatException or ArgumentOutOfRangeException)
        {
            return Broken(entries, entries + 1, $"it cannot be read: {e.Message}");
        }

        if (headProblem is not null)
        {
            return Broken(entries, null, headProblem);
        }
        if (head is null)
        {
            if (entries > 0)
            {
                return Broken(entries, null, Text($"{AuditHeadFile.FileName} is missing: the {entries} entries cannot be checked for a removed tail"));
            }
        }
        else if (head.Seq > entries)
        {
            return Broken(entries, entries + 1, Text($"entries {entries + 1} to {head.Seq} were removed ({AuditHeadFile.FileName} says the log ends at {head.Seq})"));
        }
        else if (head.Seq == 0 && !string.Equals(head.Hash, AuditHash.Genesis, StringComparison.Ordinal))
        {
            return Broken(entries, null, Text($"{AuditHeadFile.FileName} anchors entry 0 with a hash other than the genesis hash"));
        }
        if (broken is not null)
        {
            return Broken(entries, broken.FirstBadSeq, Text(
                $"the log was found broken when it was opened at {broken.DetectedAt}: {broken.Problem} (kept in {AuditHeadFile.BrokenFileName}; move it aside once dealt with)"));
        }
        return new AuditVerification
        {
            Ok = true,
            Entries = entries,
            Head = new AuditHead(entries, prev, head?.Time ?? default),
            Warning = head is not null && head.Seq < entries
                ? Text($"entries {head.Seq + 1} to {entries} follow the head file's entry {head.Seq}: written by a running host, or before a stop that left the head file behind")
                : null,
        };
    }

    private static AuditVerification Broken(long entries, long? firstBad, string problem)
        => new() { Ok = false, Entries = entries, FirstBadSeq = firstBad, Problem = problem };

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
