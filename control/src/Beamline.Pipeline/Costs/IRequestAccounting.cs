namespace Beamline.Pipeline.Costs;

/// <summary>
/// Where every finished request is accounted: the usage ledger (spend, tokens, by provider,
/// model, team and key), the audit chain, replay capture. Every registered one is called once per
/// request, from the pipeline's last step, whatever the ending; it must not block (implementations queue)
/// and must not throw.
/// </summary>
public interface IRequestAccounting
{
    /// <summary>A decide finished (a decision or an error).</summary>
    void Decided(PipelineRequest request, DecideResult result);

    /// <summary>An execute finished (whole or streamed): its usage and cost are on the result.</summary>
    void Executed(PipelineRequest request, ExecuteResult result);
}

/// <summary>Accounts nothing (tests, and hosts without a data directory).</summary>
public sealed class NullRequestAccounting : IRequestAccounting
{
    /// <summary>The one instance.</summary>
    public static NullRequestAccounting Instance { get; } = new();

    /// <inheritdoc />
    public void Decided(PipelineRequest request, DecideResult result)
    {
    }

    /// <inheritdoc />
    public void Executed(PipelineRequest request, ExecuteResult result)
    {
    }
}
