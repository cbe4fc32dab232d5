namespace Beamline.Pipeline.Costs;

/// <summary>
/// Budgets (monthly and daily spend, tokens per minute) at the key, team and tenant levels: the
/// pipeline's port. Before each provider call the call's largest cost is reserved at every level
/// or at none; after it the reservation is settled to the actual cost, or released when the call
/// failed. A level refuses once what it has committed (spent + reserved) reaches its limit, so
/// under any concurrency a budget is overspent by at most the one reservation granted just below
/// it (plus what calls cost beyond what they reserved, which the pipeline bounds by ending a
/// stream that runs past its reservation).
/// </summary>
public interface IBudgets
{
    /// <summary>
    /// Whether any level of <paramref name="caller"/> has a budget or a tokens-per-minute limit.
    /// When none has, a reservation holds nothing, so the pipeline does not count the prompt for it.
    /// </summary>
    bool IsLimited(Caller caller);

    /// <summary>
    /// Whether <paramref name="caller"/> may start a request at all: null, or why not (a budget
    /// already spent). A decide, which reserves nothing, is refused by this.
    /// </summary>
    BudgetRefusal? Check(Caller caller);

    /// <summary>Reserves <paramref name="costNanos"/> and <paramref name="tokens"/> at every level of <paramref name="caller"/>, or at none.</summary>
    BudgetHold Reserve(Caller caller, long costNanos, long tokens);

    /// <summary>Turns a granted hold into spend: the actual cost and tokens replace what was reserved.</summary>
    void Settle(in BudgetHold hold, long costNanos, long tokens);

    /// <summary>Gives a granted hold back (the call failed or was never made).</summary>
    void Release(in BudgetHold hold);
}

/// <summary>Why a budget refused: CP1 <c>quota_exceeded</c> with <c>details.reason: "budget"</c>.</summary>
/// <param name="Level">The level that refused: <c>key</c>, <c>team</c> or <c>tenant</c>.</param>
/// <param name="Id">That level's id.</param>
/// <param name="Limit">The limit: <c>monthly_budget_usd</c>, <c>daily_budget_usd</c> or <c>tokens_per_minute</c>.</param>
/// <param name="Message">A sentence for the client.</param>
/// <param name="RetryAfterSeconds">When to come back (the minute, day or month's end).</param>
public sealed record BudgetRefusal(string Level, string Id, string Limit, string Message, int RetryAfterSeconds);

/// <summary>
/// What <see cref="IBudgets.Reserve"/> returned: granted (holding <see cref="CostNanos"/> and
/// <see cref="Tokens"/> at the levels in <see cref="State"/>), or refused. A struct: reserving allocates nothing.
/// </summary>
public readonly struct BudgetHold
{
    /// <summary>A granted hold (<paramref name="state"/> is the implementation's: the levels it holds).</summary>
    public BudgetHold(object? state, long costNanos, long tokens)
    {
        State = state;
        CostNanos = costNanos;
        Tokens = tokens;
    }

    /// <summary>A refusal.</summary>
    public BudgetHold(BudgetRefusal refusal) => Refusal = refusal;

    /// <summary>The implementation's record of the levels held (null: nothing held, nothing limited).</summary>
    public object? State { get; }

    /// <summary>The reserved cost in nano-dollars.</summary>
    public long CostNanos { get; }

    /// <summary>The reserved tokens.</summary>
    public long Tokens { get; }

    /// <summary>Why it was refused, or null.</summary>
    public BudgetRefusal? Refusal { get; }

    /// <summary>Whether the call may go on.</summary>
    public bool IsGranted => Refusal is null;
}

/// <summary>No budgets: everything is granted, nothing counted (tests, and hosts without tenancy).</summary>
public sealed class UnlimitedBudgets : IBudgets
{
    /// <summary>The one instance.</summary>
    public static UnlimitedBudgets Instance { get; } = new();

    /// <inheritdoc />
    public bool IsLimited(Caller caller) => false;

    /// <inheritdoc />
    public BudgetRefusal? Check(Caller caller) => null;

    /// <inheritdoc />
    public BudgetHold Reserve(Caller caller, long costNanos, long tokens) => new(null, costNanos, tokens);

    /// <inheritdoc />
    public void Settle(in BudgetHold hold, long costNanos, long tokens)
    {
    }

    /// <inheritdoc />
    public void Release(in BudgetHold hold)
    {
    }
}
