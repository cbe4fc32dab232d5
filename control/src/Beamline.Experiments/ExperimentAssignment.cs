namespace Beamline.Experiments;

/// <summary>
/// Sticky assignment: a deterministic hash of the experiment id and the unit (the user id, else
/// the session id, else the request id) to one of 10,000 buckets, and the bucket to an arm by the
/// arms' cumulative shares. The same user gets the same arm in every process and after restarts;
/// string hash codes (randomized per process) are never used.
/// </summary>
public static class ExperimentAssignment
{
    /// <summary>The number of buckets: shares are in basis points.</summary>
    public const int Buckets = 10_000;

    /// <summary>The unit a request is assigned by: its user, else its session, else the request itself.</summary>
    public static string? UnitOf(string? userId, string? sessionId, string? requestId)
        => !string.IsNullOrEmpty(userId) ? userId : !string.IsNullOrEmpty(sessionId) ? sessionId : requestId;

    /// <summary>The bucket in [0, <see cref="Buckets"/>) of <paramref name="unit"/> in experiment <paramref name="experimentId"/>.</summary>
    public static int Bucket(string experimentId, string unit)
    {
        ArgumentNullException.ThrowIfNull(experimentId);
        ArgumentNullException.ThrowIfNull(unit);
        // FNV-1a over the UTF-16 code units, then SplitMix64's finalizer so that the low bits mix well.
        var hash = 14695981039346656037UL;
        hash = Mix(hash, experimentId);
        hash = unchecked((hash ^ 0x1F) * 1099511628211UL); // a separator: ("ab","c") and ("a","bc") differ
        hash = Mix(hash, unit);
        hash = unchecked((hash ^ (hash >> 30)) * 0xBF58476D1CE4E5B9UL);
        hash = unchecked((hash ^ (hash >> 27)) * 0x94D049BB133111EBUL);
        hash ^= hash >> 31;
        return (int)(hash % Buckets);
    }

    /// <summary>The index of the arm whose cumulative share holds <paramref name="bucket"/>.</summary>
    public static int ArmOf(ReadOnlySpan<int> weightsBasisPoints, int bucket)
    {
        var cumulative = 0;
        for (var i = 0; i < weightsBasisPoints.Length; i++)
        {
            cumulative += weightsBasisPoints[i];
            if (bucket < cumulative)
            {
                return i;
            }
        }
        return weightsBasisPoints.Length - 1;
    }

    private static ulong Mix(ulong hash, string text)
    {
        foreach (var c in text)
        {
            hash = unchecked((hash ^ c) * 1099511628211UL);
        }
        return hash;
    }
}
