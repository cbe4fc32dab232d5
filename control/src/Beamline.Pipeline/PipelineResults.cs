using Beamline.Cp1;
using Beamline.Pipeline.Admission;
using Beamline.Pipeline.Providers;
using Beamline.Routing;

namespace Beamline.Pipeline;

/// <summary>
/// A decide's outcome: the decision, or the error that ended the request. A successful decide
/// hands its admission <see cref="Lease"/> to the face, which gives it back (dispose) or passes
/// it on (an assignment that keeps its slots until the worker answers).
/// </summary>
public sealed class DecideResult
{
    /// <summary>The error, or null on success.</summary>
    public Cp1Error? Error { get; init; }

    /// <summary>The decision (default on an error that came before routing).</summary>
    public RouteDecision Decision { get; init; }

    /// <summary>The admission lease of a successful decide; null on an error (already given back).</summary>
    public AdmissionLease? Lease { get; init; }

    /// <summary>Whether the decide succeeded.</summary>
    public bool IsSuccess => Error is null;
}

/// <summary>One provider attempt of an execute, in order.</summary>
/// <param name="ProviderId">The provider called.</param>
/// <param name="Reason">Why routing chose it (weighted, fallback, retry, …).</param>
/// <param name="Answer">What the call came to.</param>
/// <param name="LatencyUs">How long it took.</param>
public readonly record struct ProviderAttempt(string ProviderId, string Reason, ProviderAnswer Answer, long LatencyUs)
{
    /// <summary>What the attempt used, when it was charged (it answered, or streamed before failing); null otherwise.</summary>
    public Costs.TokenUsage? Usage { get; init; }

    /// <summary>What the attempt cost, in nano-dollars.</summary>
    public long CostNanos { get; init; }

    /// <summary>The model the attempt was priced for.</summary>
    public string? Model { get; init; }
}

/// <summary>An execute's outcome: the provider's answer after post extensions, or the error.</summary>
public sealed class ExecuteResult
{
    /// <summary>The error, or null on success.</summary>
    public Cp1Error? Error { get; init; }

    /// <summary>The policy used, when routing got that far.</summary>
    public string? PolicyId { get; init; }

    /// <summary>The provider that answered (null on an error).</summary>
    public string? ProviderId { get; init; }

    /// <summary>Every provider attempt, in order (empty when none was made).</summary>
    public IReadOnlyList<ProviderAttempt> Attempts { get; init; } = [];

    /// <summary>The answer after post extensions (the last attempt's output on success).</summary>
    public ReadOnlyMemory<byte> Output { get; init; }

    /// <summary>
    /// What <see cref="Output"/> is: as post extensions left it, else read from the bytes when first
    /// asked (no face needs it on the hot path, so no answer is scanned for it unasked).
    /// </summary>
    public PayloadKind OutputKind
    {
        get => _outputKind ??= PayloadKinds.Detect(Output.Span);
        init => _outputKind = value;
    }

    /// <summary>Sets <see cref="OutputKind"/> when it is known already (null: read it when asked).</summary>
    internal PayloadKind? KnownOutputKind
    {
        init => _outputKind = value;
    }

    private PayloadKind? _outputKind;

    /// <summary>The model the answering provider was asked for (priced by), or null.</summary>
    public string? Model { get => _model; init => _model = value; }

    /// <summary>
    /// The tokens the charged call used (reported by the provider, or counted), or null when none was
    /// charged. An error after a call was charged (a post extension's, the deadline's) still carries it.
    /// </summary>
    public Costs.TokenUsage? Usage { get => _usage; init => _usage = value; }

    /// <summary>What the charged call cost, in nano-dollars (0 when none was charged or it has no price).</summary>
    public long CostNanos { get => _costNanos; init => _costNanos = value; }

    private string? _model;
    private Costs.TokenUsage? _usage;
    private long _costNanos;

    /// <summary>Records what the request was charged, when the result was built before it was known (the pipeline's last step).</summary>
    internal void Charged(Costs.TokenUsage? usage, long costNanos, string? model)
    {
        _usage = usage;
        _costNanos = costNanos;
        _model = model;
    }

    /// <summary>Why a stream was ended before the provider finished it (<c>budget</c>: it reached its reservation), or null.</summary>
    public string? StopReason { get; init; }

    /// <summary>The SHA-256 of a streamed answer as passed on (whole answers are hashed from <see cref="Output"/>), or null.</summary>
    public byte[]? StreamSha256 { get; init; }

    /// <summary>The last attempt's answer, when one was made.</summary>
    public ProviderAnswer? LastAnswer => Attempts.Count == 0 ? null : Attempts[^1].Answer;

    /// <summary>Whether the execute succeeded.</summary>
    public bool IsSuccess => Error is null;
}

/// <summary>
/// One item of a streamed execute: a chunk of the answer (after post extensions), or — always
/// last, exactly once — the result (its <see cref="ExecuteResult.Output"/> holds what the
/// provider returned besides the chunks, for example the HTTP status document).
/// </summary>
/// <param name="Chunk">A chunk's bytes, or empty for the final item.</param>
/// <param name="Result">The result (the final item), or null.</param>
public readonly record struct ExecuteStreamItem(ReadOnlyMemory<byte> Chunk, ExecuteResult? Result)
{
    /// <summary>Whether this is the final item.</summary>
    public bool IsFinal => Result is not null;

    /// <summary>The API a chunk speaks (as the provider sent it), or none for opaque bytes.</summary>
    public WireFormat Format { get; init; }
}
