using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Beamline.Tenancy.Budgets;

namespace Beamline.Host.Routing;

/// <summary>
/// The pipeline's budget port over tenancy's <see cref="BudgetGate"/>: a caller is charged at its
/// key, team and tenant levels (the trusted NATS bus, which has no key, at the tenant level). A
/// refusal becomes CP1 <c>quota_exceeded</c> with <c>details.reason: "budget"</c>.
/// </summary>
internal sealed class BudgetAdmission(BudgetGate gate) : IBudgets
{
    public bool IsLimited(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return gate.IsLimited(caller.TenantId, caller.TeamId, caller.KeyId);
    }

    public BudgetRefusal? Check(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return gate.Check(caller.TenantId, caller.TeamId, caller.KeyId) is { } denial ? Refusal(denial) : null;
    }

    public BudgetHold Reserve(Caller caller, long costNanos, long tokens)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var grant = gate.Reserve(caller.TenantId, caller.TeamId, caller.KeyId, costNanos, tokens);
        return grant.Denial is { } denial ? new BudgetHold(Refusal(denial)) : new BudgetHold(grant.State, grant.CostNanos, grant.Tokens);
    }

    public void Settle(in BudgetHold hold, long costNanos, long tokens)
    {
        if (hold.IsGranted)
        {
            gate.Settle(new BudgetGrant(hold.State, hold.CostNanos, hold.Tokens), costNanos, tokens);
        }
    }

    public void Release(in BudgetHold hold)
    {
        if (hold.IsGranted)
        {
            gate.Release(new BudgetGrant(hold.State, hold.CostNanos, hold.Tokens));
        }
    }

    internal static BudgetRefusal Refusal(in BudgetDenial denial)
        => new(BudgetNames.Of(denial.Level), denial.Id, denial.LimitName, denial.Message, denial.RetryAfterSeconds);
}
