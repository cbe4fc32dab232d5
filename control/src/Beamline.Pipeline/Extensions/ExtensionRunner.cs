using System.Collections.Immutable;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Policies;
using Microsoft.Extensions.Logging;

namespace Beamline.Pipeline.Extensions;

/// <summary>
/// Runs a policy's extension steps for one request (SKELETON: the extensions work fills it in).
/// </summary>
public sealed class ExtensionRunner
{
    /// <summary>Creates the runner.</summary>
    public ExtensionRunner(IExtensionRegistry registry, IEnumerable<IBuiltInExtension> builtIns, IExtensionTransport? transport,
        IActivitySink activity, TimeProvider time, ILogger<ExtensionRunner> logger)
    {
    }

    /// <summary>Runs <c>pre[]</c> in order, replacing the request's payload and merging its metadata; null to go on, or the error that fails the request.</summary>
    public ValueTask<Cp1Error?> RunPreAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, CancellationToken cancellationToken)
        => throw new NotImplementedException();

    /// <summary>Runs <c>validators[]</c> concurrently; null to go on, or the error that fails the request.</summary>
    public ValueTask<Cp1Error?> RunValidatorsAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, CancellationToken cancellationToken)
        => throw new NotImplementedException();

    /// <summary>Runs <c>post[]</c> in order over a whole answer.</summary>
    public ValueTask<PostOutcome> RunPostAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, ReadOnlyMemory<byte> answer,
        PayloadKind kind, CancellationToken cancellationToken)
        => throw new NotImplementedException();

    /// <summary>Starts running <c>post[]</c> over a streamed answer.</summary>
    public PostStream BeginPostStream(PipelineRequest request, ImmutableArray<ExtensionStep> steps) => throw new NotImplementedException();

    /// <summary>Every known extension's health (registry entries and built-ins), ordered by id.</summary>
    public IReadOnlyList<ExtensionHealth> Health() => throw new NotImplementedException();
}

/// <summary>The answer after post extensions, or the error that fails the request.</summary>
public readonly record struct PostOutcome(ReadOnlyMemory<byte> Answer, PayloadKind Kind, Cp1Error? Error);

/// <summary>Post extensions over one streamed answer's text.</summary>
public sealed class PostStream
{
    /// <summary>True when no post step applies: the stream passes through untouched.</summary>
    public bool IsEmpty => true;

    /// <summary>The next text chunk; returns what may be sent now, or throws <see cref="ExtensionFailedException"/> for a required failure.</summary>
    public ValueTask<string> PushAsync(string text, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>The end of the stream: what is left.</summary>
    public ValueTask<string> FlushAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
}

/// <summary>A required post extension failed mid-stream: the stream ends with <see cref="Error"/>.</summary>
public sealed class ExtensionFailedException(Cp1Error error) : Exception(error.Message)
{
    /// <summary>The CP1 error.</summary>
    public Cp1Error Error { get; } = error;
}

/// <summary>One extension's health, for <c>get_extension_health</c> and <c>/admin/v1/extensions/health</c>.</summary>
#pragma warning disable CS1591 // the field names are the JSON names of the health view
public sealed record ExtensionHealth
{
    public required string Id { get; init; }
    public required ExtensionType Type { get; init; }
    /// <summary><c>builtin</c> or <c>nats</c>.</summary>
    public required string Source { get; init; }
    public string? Subject { get; init; }
    public long Calls { get; init; }
    public long Failures { get; init; }
    public long Timeouts { get; init; }
    public double? P50Ms { get; init; }
    public double? P99Ms { get; init; }
    /// <summary><c>closed</c>, <c>open</c> or <c>half_open</c>.</summary>
    public required string Breaker { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset? LastErrorAt { get; init; }
}
#pragma warning restore CS1591
