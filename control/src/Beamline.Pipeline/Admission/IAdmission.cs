namespace Beamline.Pipeline.Admission;

/// <summary>
/// The admit stage's port: charges a request to its caller's quotas (and, later, budgets) before
/// anything else runs. The host implements it over tenancy's quota gate.
/// </summary>
public interface IAdmission
{
    /// <summary>Takes the caller's in-flight slots; the lease gives them back when disposed.</summary>
    AdmissionLease Enter(Caller caller);
}

/// <summary>
/// What admission granted: dispose it exactly once when the request is over, however it ends.
/// A refused lease holds nothing.
/// </summary>
public sealed class AdmissionLease : IDisposable
{
    private IDisposable? _held;

    private AdmissionLease(IDisposable? held, string? refusal, int retryAfterSeconds)
    {
        _held = held;
        Refusal = refusal;
        RetryAfterSeconds = retryAfterSeconds;
    }

    /// <summary>A lease that holds <paramref name="held"/> (may be null: nothing to give back).</summary>
    public static AdmissionLease Admitted(IDisposable? held) => new(held, null, 0);

    /// <summary>A refusal (<c>quota_exceeded</c>) with its message and <c>Retry-After</c>.</summary>
    public static AdmissionLease Refused(string message, int retryAfterSeconds) => new(null, message, retryAfterSeconds);

    /// <summary>Whether the request may go on.</summary>
    public bool IsAdmitted => Refusal is null;

    /// <summary>Why it was refused, or null.</summary>
    public string? Refusal { get; }

    /// <summary>When the caller should come back, in seconds.</summary>
    public int RetryAfterSeconds { get; }

    /// <summary>
    /// Keeps the held slots past this lease's disposal: the new owner (an assignment tracker)
    /// gives them back. Returns what was held.
    /// </summary>
    public IDisposable? Detach() => Interlocked.Exchange(ref _held, null);

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _held, null)?.Dispose();
}
