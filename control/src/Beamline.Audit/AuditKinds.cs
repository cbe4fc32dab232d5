namespace Beamline.Audit;

/// <summary>What an audit entry records (<see cref="AuditRecord.Kind"/>).</summary>
public static class AuditKinds
{
    /// <summary>A routing decision (CP1 decide).</summary>
    public const string Decision = "decision";

    /// <summary>An execution: a provider call or a block, with its cost and usage.</summary>
    public const string Execution = "execution";

    /// <summary>A mutating admin request (POST/PUT/PATCH/DELETE under <c>/admin/</c>).</summary>
    public const string Admin = "admin";

    /// <summary>True for one of the kinds above.</summary>
    public static bool IsKnown(string? kind) => kind is Decision or Execution or Admin;
}
