namespace Beamline.Tenancy.Budgets;

/// <summary>
/// Where budget usage is kept: per level (key, team, tenant) the settled spend of the current UTC
/// month and day, what calls in flight have reserved (nano-dollars and tokens), and the settled
/// tokens of the sliding minute. The <see cref="BudgetGate"/> decides what to charge; this stores
/// it, with reservations taken at several levels at once or at none.
/// </summary>
/// <remarks>
/// <para>
/// The rule every implementation applies, per level and limit: a level refuses when what it has
/// already committed (spent plus reserved; tokens in the window plus reserved) has reached its
/// limit; otherwise the reservation is added whatever its size. Since the check and the add are
/// one atomic step per level, concurrent reservations can overshoot a limit by at most the last
/// reservation granted, and a call that costs no more than it reserved keeps spend within that.
/// </para>
/// <para>
/// Periods: the caller passes the clock (<see cref="BudgetClock"/>) to every call. A counter
/// whose month or day is older than the clock's starts the new period at zero spend (the old
/// period's count is dropped); reservations carry over, since their calls are still in flight
/// and settle into the period in which they end. A clock older than the counter's period counts in
/// the counter's (newer) period.
/// </para>
/// <para>
/// A distributed implementation (JetStream KV, in the distributed-state issue) fits the same
/// contract: one KV entry per counter and period, e.g.
/// <c>budget.&lt;level&gt;.&lt;tenant&gt;.&lt;id&gt;.m.&lt;2026-11&gt;</c> holding (spent, reserved), with a
/// TTL past the period's end. A reservation reads an entry with its revision, checks it and writes
/// it back with "update if revision is still N" (compare-and-set), retrying on a conflict; across
/// the levels it goes key, team, tenant in that order and, when a later level refuses, undoes the
/// earlier ones the same way — all or none, as the in-process one does under locks. Settle and
/// release are compare-and-set loops too. Since these methods are synchronous (they sit on the
/// request path and allocate nothing), such an implementation would serve them from a local
/// allowance taken from KV in chunks and returned or refilled in the background; the overshoot
/// bound then grows by one chunk per control plane.
/// </para>
/// <para>
/// Implementations are thread-safe. <see cref="Open"/> may allocate the first time a key is seen;
/// the reserve, settle and release paths must not allocate.
/// </para>
/// </remarks>
public interface IBudgetCounters
{
    /// <summary>The counter of one level, created on first use; callers keep it (the same key gives the same counter until it is dropped).</summary>
    BudgetCounter Open(BudgetCounterKey key);

    /// <summary>
    /// Reserves <paramref name="costNanos"/> and <paramref name="tokens"/> at every level of
    /// <paramref name="charges"/> (ordered key, team, tenant), or at none: false, with the first
    /// refusing level in <paramref name="shortfall"/>, when one has reached a limit.
    /// </summary>
    bool TryReserve(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long costNanos, long tokens, out BudgetShortfall shortfall);

    /// <summary>
    /// Whether every level is still below its monthly and daily budgets (spent plus reserved):
    /// false, with the first that is not, otherwise. Reserves nothing; tokens per minute are not checked.
    /// </summary>
    bool Check(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, out BudgetShortfall shortfall);

    /// <summary>
    /// Turns a reservation into spend at every level of <paramref name="charges"/>: the reserved
    /// amounts are given back and the actual ones counted (spend in the current month and day,
    /// tokens in the current second). <paramref name="changes"/> (one per charge) receives each
    /// level's spend before and after.
    /// </summary>
    void Settle(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long reservedNanos, long reservedTokens,
        long costNanos, long tokens, Span<BudgetSpendChange> changes);

    /// <summary>Gives a reservation back at every level of <paramref name="charges"/> (the call failed or was not made).</summary>
    void Release(ReadOnlySpan<BudgetCharge> charges, BudgetClock now, long reservedNanos, long reservedTokens);

    /// <summary>
    /// Sets a level's spend of the current month and day to what was recorded before this process
    /// started, unless more has been counted already (the larger wins).
    /// </summary>
    void Seed(BudgetCounterKey key, BudgetClock now, long monthSpentNanos, long daySpentNanos);

    /// <summary>A level's usage now (zero for a level never counted).</summary>
    BudgetUsage Read(BudgetCounterKey key, BudgetClock now);

    /// <summary>Drops the counters for which <paramref name="keep"/> is false (their level is gone).</summary>
    void Retain(Func<BudgetCounterKey, bool> keep);
}

/// <summary>
/// A handle on one level's counter, from <see cref="IBudgetCounters.Open"/>; each implementation
/// subclasses it with its own state, so that the hot path needs no lookup.
/// </summary>
public abstract class BudgetCounter
{
    /// <summary>A counter of <paramref name="key"/>.</summary>
    protected BudgetCounter(BudgetCounterKey key) => Key = key;

    /// <summary>Whose counter this is.</summary>
    public BudgetCounterKey Key { get; }
}
