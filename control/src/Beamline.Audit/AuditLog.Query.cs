using Beamline.Audit.Internal;

namespace Beamline.Audit;

public sealed partial class AuditLog
{
    /// <summary>
    /// A page of durable entries after <paramref name="afterSeq"/>, in sequence order: only
    /// <paramref name="tenantId"/>'s when given (never another tenant's, nor system-wide ones), of
    /// <paramref name="kind"/> when given. At most <paramref name="limit"/> (1 to <see cref="MaxPageSize"/>).
    /// </summary>
    public AuditPage Query(string? tenantId, long afterSeq, int limit, string? kind = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPageSize);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        using var connection = AuditDatabase.OpenReader(_databasePath);
        using var command = connection.CreateCommand();
        // tenant_id = $tenant with seq > $after walks the (tenant_id, seq) index.
        command.CommandText = "SELECT " + AuditDatabase.Columns + " FROM audit WHERE seq > $after"
            + (tenantId is null ? "" : " AND tenant_id = $tenant")
            + (kind is null ? "" : " AND kind = $kind")
            + " ORDER BY seq LIMIT $limit;";
        command.Parameters.AddWithValue("$after", afterSeq);
        command.Parameters.AddWithValue("$limit", limit + 1);
        if (tenantId is not null)
        {
            command.Parameters.AddWithValue("$tenant", tenantId);
        }
        if (kind is not null)
        {
            command.Parameters.AddWithValue("$kind", kind);
        }
        var entries = new List<AuditEntry>(Math.Min(limit, 64));
        using var reader = command.ExecuteReader();
        var more = false;
        while (reader.Read())
        {
            if (entries.Count == limit)
            {
                more = true;
                break;
            }
            entries.Add(AuditDatabase.ReadEntry(reader));
        }
        return new AuditPage(entries, more ? entries[^1].Seq : null);
    }
}
