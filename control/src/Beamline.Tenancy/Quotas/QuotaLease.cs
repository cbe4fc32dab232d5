namespace Beamline.Tenancy.Quotas;

/// <summary>
/// What <see cref="QuotaGate.Enter(TenantPrincipal)"/> returns: admitted, holding an in-flight
/// slot at each level that limits concurrency until disposed, or refused, saying why. A struct
/// returned by value: admitting a request allocates nothing.
/// </summary>
/// <remarks>
/// Dispose it exactly once, whatever happens to the request (<c>using var lease = ...</c>);
/// disposing a refused lease does nothing. The requests-per-minute count is not given back: a
/// request that was admitted was made.
/// </remarks>
public readonly struct QuotaLease : IDisposable
{
    private readonly QuotaMeter? _key;
    private readonly QuotaMeter? _team;
    private readonly QuotaMeter? _tenant;
    private readonly bool _refused;

    internal QuotaLease(QuotaMeter? key, QuotaMeter? team, QuotaMeter? tenant)
    {
        _key = key;
        _team = team;
        _tenant = tenant;
    }

    private QuotaLease(QuotaRefusal refusal)
    {
        _refused = true;
        Refusal = refusal;
    }

    /// <summary>True when the request may go on.</summary>
    public bool IsAdmitted => !_refused;

    /// <summary>Why the request was refused; <c>default</c> when it was admitted.</summary>
    public QuotaRefusal Refusal { get; }

    /// <summary>Gives back the in-flight slots.</summary>
    public void Dispose()
    {
        _key?.Exit();
        _team?.Exit();
        _tenant?.Exit();
    }

    internal static QuotaLease Refuse(QuotaRefusal refusal) => new(refusal);
}
