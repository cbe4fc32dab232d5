namespace Beamline.Tenancy.Budgets;

/// <summary>
/// What <see cref="BudgetGate.Reserve"/> returned: granted, holding <see cref="CostNanos"/> and
/// <see cref="Tokens"/> at the levels in <see cref="State"/> until settled or released; or refused,
/// saying why. A struct: reserving allocates nothing.
/// </summary>
/// <remarks>
/// Settle or release a granted grant exactly once (a second settle would give back another call's
/// reservation). Doing either to a refused grant, or to one that holds nothing, does nothing.
/// </remarks>
public readonly struct BudgetGrant
{
    /// <summary>
    /// A granted reservation, or one rebuilt from the parts a port carried (the pipeline's
    /// <c>BudgetHold</c>): <paramref name="state"/> is what <see cref="State"/> was.
    /// </summary>
    public BudgetGrant(object? state, long costNanos, long tokens)
    {
        State = state;
        CostNanos = costNanos;
        Tokens = tokens;
    }

    private BudgetGrant(BudgetDenial denial) => Denial = denial;

    /// <summary>The gate's record of the levels held (shared by the requests of one caller); null when nothing is held.</summary>
    public object? State { get; }

    /// <summary>The reserved cost, nano-dollars.</summary>
    public long CostNanos { get; }

    /// <summary>The reserved tokens.</summary>
    public long Tokens { get; }

    /// <summary>Why it was refused, or null.</summary>
    public BudgetDenial? Denial { get; }

    /// <summary>Whether the call may go on.</summary>
    public bool IsGranted => Denial is null;

    internal static BudgetGrant Refuse(BudgetDenial denial) => new(denial);
}
