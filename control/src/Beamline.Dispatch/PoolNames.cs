namespace Beamline.Dispatch;

/// <summary>Pool names become one NATS subject token (<c>caf.exec.v2.&lt;pool&gt;</c>), so they are restricted.</summary>
public static class PoolNames
{
    /// <summary>The rule, for error messages.</summary>
    public const string Rule = "1-64 characters of a-z, A-Z, 0-9, '_' or '-'";

    /// <summary>True when <paramref name="pool"/> can stand as a subject token.</summary>
    public static bool IsValid(string? pool)
    {
        if (string.IsNullOrEmpty(pool) || pool.Length > 64)
        {
            return false;
        }
        foreach (var c in pool)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }
        return true;
    }
}
