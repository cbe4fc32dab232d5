using Beamline.Policies;
using Beamline.Routing.Catalog;

namespace Beamline.Pipeline.Providers;

/// <summary>One call to a provider, as the pipeline makes it.</summary>
public sealed class ProviderCall
{
    /// <summary>The provider chosen by routing.</summary>
    public required ProviderDescriptor Provider { get; init; }

    /// <summary>The request (its payload is what pre extensions left).</summary>
    public required PipelineRequest Request { get; init; }

    /// <summary>How long this attempt may take: what is left of the request's deadline.</summary>
    public required TimeSpan Timeout { get; init; }
}

/// <summary>What one call to a provider came to; the fallback plan and the breakers learn from it.</summary>
/// <param name="Succeeded">True when the provider answered successfully.</param>
/// <param name="Failure">The fallback rules' view of a failure; <see cref="FailureKinds.None"/> with
/// <paramref name="Succeeded"/> false is a failure no fallback can help (a 4xx, a cancelled call).</param>
/// <param name="Status">The block's status (<c>ok</c>, <c>error</c>, <c>timeout</c>, <c>cancelled</c>).</param>
/// <param name="ErrorCode">The error code (a block's, <c>http_&lt;status&gt;</c>), or null.</param>
/// <param name="Message">Why it failed, or null.</param>
/// <param name="HttpStatus">The provider's HTTP status for HTTP providers; otherwise 0.</param>
/// <param name="Output">The answer: the block's output, or the HTTP response body.</param>
public readonly record struct ProviderAnswer(bool Succeeded, FailureKinds Failure, string Status, string? ErrorCode, string? Message,
    int HttpStatus, ReadOnlyMemory<byte> Output)
{
    /// <summary>The provider's <c>Retry-After</c> in seconds (429 or 503); 0 when it gave none.</summary>
    public int RetryAfterSeconds { get; init; }

    /// <summary>The API <see cref="Output"/> (and a stream's chunks) speaks; <see cref="WireFormat.None"/> for opaque bytes.</summary>
    public WireFormat Format { get; init; }

    /// <summary>The error code of an attempt at a provider that cannot be called.</summary>
    public const string UnsupportedProvider = "unsupported_provider";

    /// <summary>The error code of a call the caller gave up (it went away, or the control plane stops).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>A provider that cannot be called: a server error of that provider (its breaker may open), so the plan goes on.</summary>
    public static ProviderAnswer Unsupported(string message) =>
        new(false, FailureKinds.ServerError, "error", UnsupportedProvider, message, 0, default);
}

/// <summary>One item of a streamed provider answer: a chunk, or the final answer (always last, exactly once).</summary>
/// <param name="Data">The chunk's bytes as the provider sent them (empty for the final item).</param>
/// <param name="Final">The final answer (its <see cref="ProviderAnswer.Output"/> holds what was not streamed), or null for a chunk.</param>
public readonly record struct ProviderStreamItem(ReadOnlyMemory<byte> Data, ProviderAnswer? Final)
{
    /// <summary>Whether this is the final item.</summary>
    public bool IsFinal => Final is not null;

    /// <summary>The API a chunk speaks (server-sent events of the OpenAI or Anthropic stream), or none for opaque bytes.</summary>
    public WireFormat Format { get; init; }
}

/// <summary>
/// Calls providers of some kinds (<c>openai</c>, <c>anthropic</c>, <c>nats_provider</c>,
/// <c>block</c>, …), whole or streamed. Failures are answers, never exceptions, except
/// cancellation by the caller's token.
/// </summary>
public interface IProviderClient
{
    /// <summary>Whether this client calls providers of <paramref name="kind"/>.</summary>
    bool Serves(ProviderKind kind);

    /// <summary>
    /// Why this request must not be sent to this provider at all (the request is at fault, for
    /// example a model the provider does not offer), or null. No call is made and no fallback is tried.
    /// </summary>
    string? Refuse(ProviderCall call);

    /// <summary>Calls the provider and returns its whole answer.</summary>
    ValueTask<ProviderAnswer> CallAsync(ProviderCall call, CancellationToken cancellationToken);

    /// <summary>
    /// Calls the provider for a streamed answer: chunks as they come, then the final answer.
    /// Stopping the enumeration early cancels the call.
    /// </summary>
    IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, CancellationToken cancellationToken);
}
