using System.Collections.Concurrent;
using Beamline.Pipeline.Costs;

namespace Beamline.Pipeline.Tests.Costs;

/// <summary>
/// One budget in nano-dollars for every caller, kept exactly as the port's contract says: a
/// reservation is granted only while spend + reserved + it fits; settle and release adjust.
/// The real gate (key, team and tenant levels, periods) is tested in Beamline.Tenancy.Tests; this
/// one lets the pipeline's use of the port be checked call by call.
/// </summary>
internal sealed class OneBudget(long limitNanos) : IBudgets
{
    private readonly Lock _lock = new();

    public long Spent { get; private set; }

    public long Reserved { get; private set; }

    public int Settles { get; private set; }

    public int Releases { get; private set; }

    public ConcurrentQueue<long> Reservations { get; } = new();

    public bool IsLimited(Caller caller) => true;

    public BudgetRefusal? Check(Caller caller)
    {
        lock (_lock)
        {
            return Spent + Reserved >= limitNanos ? Refusal() : null;
        }
    }

    public BudgetHold Reserve(Caller caller, long costNanos, long tokens)
    {
        lock (_lock)
        {
            if (Spent + Reserved + costNanos > limitNanos)
            {
                return new BudgetHold(Refusal());
            }
            Reserved += costNanos;
            Reservations.Enqueue(costNanos);
            return new BudgetHold(this, costNanos, tokens);
        }
    }

    public void Settle(in BudgetHold hold, long costNanos, long tokens)
    {
        lock (_lock)
        {
            Reserved -= hold.CostNanos;
            Spent += costNanos;
            Settles++;
        }
    }

    public void Release(in BudgetHold hold)
    {
        lock (_lock)
        {
            Reserved -= hold.CostNanos;
            Releases++;
        }
    }

    private static BudgetRefusal Refusal() => new("tenant", TestPipeline.Tenant, "monthly_budget_usd", "the tenant's monthly budget is spent", 3600);
}

/// <summary>Keeps what the pipeline accounted.</summary>
internal sealed class RecordingAccounting : IRequestAccounting
{
    public ConcurrentQueue<ExecuteResult> Executed { get; } = new();

    public ConcurrentQueue<DecideResult> Decided { get; } = new();

    void IRequestAccounting.Decided(PipelineRequest request, DecideResult result) => Decided.Enqueue(result);

    void IRequestAccounting.Executed(PipelineRequest request, ExecuteResult result) => Executed.Enqueue(result);
}

/// <summary>A sink that fails every time (a closed audit log).</summary>
internal sealed class ThrowingAccounting : IRequestAccounting
{
    public void Decided(PipelineRequest request, DecideResult result) => throw new ObjectDisposedException("audit");

    public void Executed(PipelineRequest request, ExecuteResult result) => throw new ObjectDisposedException("audit");
}
