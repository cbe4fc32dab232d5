namespace Beamline.Tenancy.Quotas;

/// <summary>
/// Where the <see cref="QuotaGate"/> keeps each level's usage: in this process
/// (<see cref="InProcessQuotaCounters"/>, the default) or shared by the control planes on one NATS
/// (JetStream KV, <c>Beamline.SharedState</c>).
/// </summary>
public interface IQuotaCounters
{
    /// <summary>A new counter for one level (the gate keeps it while the level exists).</summary>
    QuotaMeter Create(QuotaLevel level, string tenantId, string id);
}

/// <summary>
/// One level's usage: the requests of the sliding minute and the requests in flight. The gate
/// checks levels key, team, tenant in order and takes back what earlier levels took when a later
/// one refuses. Implementations are thread-safe; the hot path must not allocate.
/// </summary>
public abstract class QuotaMeter
{
    /// <summary>
    /// Counts one request at <paramref name="second"/> unless the window already holds
    /// <paramref name="limit"/>. <paramref name="charged"/> is what <see cref="Untake"/> needs to
    /// take it back; when refused, <paramref name="retryAfterSeconds"/> says when to try again.
    /// </summary>
    public abstract bool TryTake(long second, int limit, out long charged, out int retryAfterSeconds);

    /// <summary>Takes back a request counted by <see cref="TryTake"/> (a later level refused it).</summary>
    public abstract void Untake(long charged);

    /// <summary>Takes an in-flight slot unless <paramref name="limit"/> are taken.</summary>
    public abstract bool TryEnter(int limit);

    /// <summary>Gives back a slot taken by <see cref="TryEnter"/>.</summary>
    public abstract void Exit();
}

/// <summary>The counters in this process's memory : each control plane counts the traffic it sees.</summary>
public sealed class InProcessQuotaCounters : IQuotaCounters
{
    /// <summary>The one instance (it holds no state).</summary>
    public static InProcessQuotaCounters Instance { get; } = new();

    /// <inheritdoc />
    public QuotaMeter Create(QuotaLevel level, string tenantId, string id) => new QuotaCounter();
}
