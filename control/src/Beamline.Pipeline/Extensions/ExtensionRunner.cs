using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions.Internal;
using Beamline.Pipeline.Telemetry;
using Beamline.Policies;
using Microsoft.Extensions.Logging;

namespace Beamline.Pipeline.Extensions;

/// <summary>
/// Runs a policy's extension steps for one request: <c>pre[]</c> in order, <c>validators[]</c> all at
/// once, <c>post[]</c> over a whole answer or chunk by chunk over a stream.
/// </summary>
/// <remarks>
/// <para>
/// A step id is resolved per request (the registry is live): an enabled registry entry with a subject
/// is called through the <see cref="IExtensionTransport"/> (NATS); otherwise a built-in of that id runs
/// in-process with the entry's config (if an enabled entry without subject exists) and the step's
/// config merged over it (top-level members); otherwise the id is unknown. An unknown required pre/post
/// step, or an unknown validator with <c>on_fail: block</c>, fails the request with
/// <c>extension_not_found</c>; any other unknown step is skipped and its id appended to the request's
/// <see cref="ExtensionMetadataKeys.Skipped"/> metadata.
/// </para>
/// <para>
/// A service call is bounded by the entry's <c>timeout_ms</c> (a reply after it is ignored) and the
/// request's cancellation; a failed attempt (timeout, unavailable, malformed or error) is retried at
/// once up to <c>retry</c> times. Built-ins are called once, without timeout; one that throws
/// fails with <see cref="ExtensionFailure.Error"/>. Every extension id has a circuit breaker over its
/// attempts (<see cref="ExtensionRunnerOptions"/>): while it is open, calls fail fast as
/// <see cref="ExtensionFailure.Unavailable"/> without being made; after the cool-down one trial is
/// let through, and its success closes the breaker.
/// </para>
/// <para>
/// Every step emits an <see cref="ActivityKinds.Extension"/> event (status ok, reject, timeout,
/// unavailable, malformed, error, skipped or extension_not_found), and a post step that changed the
/// answer a <see cref="ActivityKinds.PostChange"/> event.
/// </para>
/// </remarks>
public sealed partial class ExtensionRunner
{
    internal const string StagePre = "pre";
    internal const string StageValidator = "validator";
    internal const string StagePost = "post";

    private readonly IExtensionRegistry _registry;
    private readonly Dictionary<string, IBuiltInExtension> _builtIns = new(StringComparer.Ordinal);
    private readonly IExtensionTransport? _transport;
    private readonly IActivitySink _activity;
    private readonly TimeProvider _time;
    private readonly ILogger<ExtensionRunner> _logger;
    private readonly Telemetry.PipelineMetrics? _metrics;
    private readonly CircuitBreakerSettings _breakerSettings;
    private readonly ConcurrentDictionary<string, ExtensionState> _states = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<ExtensionStep, MergedConfig> _mergedConfigs = new();

    /// <summary>Creates the runner.</summary>
    /// <param name="registry">The live registry.</param>
    /// <param name="builtIns">The in-process extensions (the first of an id wins).</param>
    /// <param name="transport">Calls the extensions that are services (NATS); null when there is none.</param>
    /// <param name="activity">Where step events go.</param>
    /// <param name="time">The clock of breakers, latencies and events.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="options">Breaker thresholds; null for the defaults.</param>
    /// <param name="metrics">Where each call's count and latency go; null for none.</param>
    public ExtensionRunner(IExtensionRegistry registry, IEnumerable<IBuiltInExtension> builtIns, IExtensionTransport? transport,
        IActivitySink activity, TimeProvider time, ILogger<ExtensionRunner> logger, ExtensionRunnerOptions? options = null,
        Telemetry.PipelineMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(builtIns);
        ArgumentNullException.ThrowIfNull(activity);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _registry = registry;
        foreach (var builtIn in builtIns)
        {
            _builtIns.TryAdd(builtIn.Id, builtIn);
        }
        _transport = transport;
        _activity = activity;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        options ??= new ExtensionRunnerOptions();
        _breakerSettings = new CircuitBreakerSettings
        {
            FailureThreshold = Math.Max(1, options.BreakerFailureThreshold),
            OpenTimeout = options.BreakerOpenTime,
            SuccessThreshold = 1,
            HalfOpenMaxCalls = 1,
            TrialTimeout = options.BreakerTrialTimeout,
        };
    }

    /// <summary>
    /// Runs <c>pre[]</c> in order, replacing the request's payload and merging its metadata; null to go
    /// on, or the error that fails the request. A required step's failure is <c>extension_timeout</c>
    /// (timeout) or <c>extension_unavailable</c> (anything else); an optional one's is skipped. A reply
    /// that makes the payload invalid (not JSON under <see cref="PayloadKind.Json"/>, or no longer an
    /// object where it was one) is <c>invalid_request</c> whatever the mode.
    /// </summary>
    public async ValueTask<Cp1Error?> RunPreAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (steps.IsDefaultOrEmpty)
        {
            return null;
        }
        using var span = PipelineTracing.StartStage("beamline.pre", request);
        foreach (var step in steps)
        {
            var target = Resolve(step.Id);
            if (!target.IsKnown)
            {
                if (step.Mode == ExtensionMode.Required)
                {
                    return NotFound(request, step.Id, StagePre);
                }
                SkipUnknown(request, step.Id, StagePre);
                continue;
            }
            var input = InputFor(target, step, request, request.Payload, request.PayloadKind, request.Metadata);
            var reply = await InvokeAsync(target, input, request, StagePre, cancellationToken).ConfigureAwait(false);
            if (reply.Failure != ExtensionFailure.None)
            {
                if (step.Mode == ExtensionMode.Required)
                {
                    return FailureError(step.Id, StagePre, reply);
                }
                SkipFailed(request, step.Id, StagePre, reply);
                continue;
            }
            if (reply.Payload is { } payload)
            {
                if (CheckPayload(step.Id, StagePre, request.Payload, request.PayloadKind, payload, reply.PayloadKind) is { } invalid)
                {
                    return invalid;
                }
                request.Payload = payload;
                request.PayloadKind = reply.PayloadKind;
            }
            Merge(request.Metadata, reply.Metadata);
        }
        return null;
    }

    /// <summary>
    /// Runs <c>validators[]</c> concurrently (all started, then awaited together); null to go on, or the
    /// error that fails the request. A rejection or any failure counts as a reject, then the step's
    /// <c>on_fail</c> applies: block → <c>validator_blocked</c> (the first blocking one in policy order),
    /// warn → logged and the id appended to <see cref="ExtensionMetadataKeys.ValidatorWarnings"/>,
    /// ignore → nothing.
    /// </summary>
    public async ValueTask<Cp1Error?> RunValidatorsAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (steps.IsDefaultOrEmpty)
        {
            return null;
        }
        using var span = PipelineTracing.StartStage("beamline.validators", request);
        var count = steps.Length;
        var targets = new Target[count];
        for (var i = 0; i < count; i++)
        {
            targets[i] = Resolve(steps[i].Id);
            if (!targets[i].IsKnown && steps[i].OnFail == ValidatorFailAction.Block)
            {
                return NotFound(request, steps[i].Id, StageValidator);
            }
        }
        var calls = new ValueTask<ExtensionReply>[count];
        for (var i = 0; i < count; i++)
        {
            if (targets[i].IsKnown)
            {
                calls[i] = InvokeAsync(targets[i], InputFor(targets[i], steps[i], request, request.Payload, request.PayloadKind, request.Metadata),
                    request, StageValidator, cancellationToken);
            }
            else
            {
                SkipUnknown(request, steps[i].Id, StageValidator);
            }
        }
        var replies = new ExtensionReply?[count];
        ExceptionDispatchInfo? cancelled = null;
        for (var i = 0; i < count; i++)
        {
            if (!targets[i].IsKnown)
            {
                continue;
            }
            try
            {
                replies[i] = await calls[i].ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                // Await the others all the same: none is left running unobserved.
                cancelled ??= ExceptionDispatchInfo.Capture(e);
            }
        }
        cancelled?.Throw();
        Cp1Error? blocked = null;
        for (var i = 0; i < count; i++)
        {
            var reply = replies[i];
            if (reply is null || (reply.Failure == ExtensionFailure.None && !reply.Rejected))
            {
                continue;
            }
            var step = steps[i];
            var reason = reply.Failure == ExtensionFailure.None
                ? reply.Reason ?? "rejected"
                : $"{StatusOf(reply)}: {reply.Message}";
            switch (step.OnFail)
            {
                case ValidatorFailAction.Block:
                    blocked ??= Blocked(step.Id, reason, reply.Details);
                    break;
                case ValidatorFailAction.Warn:
                    LogValidatorWarned(step.Id, request.RequestId, reason);
                    AppendTo(request.Metadata, ExtensionMetadataKeys.ValidatorWarnings, step.Id);
                    break;
                default:
                    LogValidatorIgnored(step.Id, request.RequestId, reason);
                    break;
            }
        }
        return blocked;
    }

    /// <summary>
    /// Runs <c>post[]</c> in order over a whole answer, as <see cref="RunPreAsync"/> does over the
    /// request: the outcome carries the (possibly rewritten) answer, or the error that fails the request.
    /// Reply metadata is merged into the request's.
    /// </summary>
    public async ValueTask<PostOutcome> RunPostAsync(PipelineRequest request, ImmutableArray<ExtensionStep> steps, ReadOnlyMemory<byte> answer,
        PayloadKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (steps.IsDefaultOrEmpty)
        {
            return new PostOutcome(answer, kind, null);
        }
        using var span = PipelineTracing.StartStage("beamline.post", request);
        foreach (var step in steps)
        {
            var target = Resolve(step.Id);
            if (!target.IsKnown)
            {
                if (step.Mode == ExtensionMode.Required)
                {
                    return new PostOutcome(answer, kind, NotFound(request, step.Id, StagePost));
                }
                SkipUnknown(request, step.Id, StagePost);
                continue;
            }
            var input = InputFor(target, step, request, answer, kind, request.Metadata);
            var reply = await InvokeAsync(target, input, request, StagePost, cancellationToken).ConfigureAwait(false);
            if (reply.Failure != ExtensionFailure.None)
            {
                if (step.Mode == ExtensionMode.Required)
                {
                    return new PostOutcome(answer, kind, FailureError(step.Id, StagePost, reply));
                }
                SkipFailed(request, step.Id, StagePost, reply);
                continue;
            }
            if (reply.Payload is { } payload)
            {
                if (CheckPayload(step.Id, StagePost, answer, kind, payload, reply.PayloadKind) is { } invalid)
                {
                    return new PostOutcome(answer, kind, invalid);
                }
                if (reply.PayloadKind != kind || !payload.Span.SequenceEqual(answer.Span))
                {
                    EmitPostChange(request, step.Id, $"{answer.Length} → {payload.Length} bytes");
                }
                answer = payload;
                kind = reply.PayloadKind;
            }
            Merge(request.Metadata, reply.Metadata);
        }
        return new PostOutcome(answer, kind, null);
    }

    /// <summary>
    /// Starts running <c>post[]</c> over a streamed answer. Streaming built-ins
    /// (<see cref="IStreamingPostExtension"/>) rewrite the text as it passes; every other post step is
    /// called once per non-empty text chunk that comes out of the steps before it (payload: the chunk as
    /// a JSON string; metadata: the request's plus <see cref="ExtensionMetadataKeys.StreamChunk"/>), its
    /// reply payload (a JSON string) replacing the chunk. An unknown required step fails the stream at
    /// its first <see cref="PostStream.PushAsync"/>.
    /// </summary>
    public PostStream BeginPostStream(PipelineRequest request, ImmutableArray<ExtensionStep> steps)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (steps.IsDefaultOrEmpty)
        {
            return PostStream.Empty;
        }
        var stages = new List<PostStream.Stage>(steps.Length);
        foreach (var step in steps)
        {
            var target = Resolve(step.Id);
            if (!target.IsKnown)
            {
                if (step.Mode == ExtensionMode.Required)
                {
                    return new PostStream([], NotFound(request, step.Id, StagePost));
                }
                SkipUnknown(request, step.Id, StagePost);
                continue;
            }
            if (target.BuiltIn is IStreamingPostExtension streaming)
            {
                var (rewriter, failure) = BeginRewriter(target, step, request, streaming);
                if (rewriter is not null)
                {
                    stages.Add(new PostStream.RewriterStage(this, request, target, step, rewriter));
                    continue;
                }
                EmitStep(request, StagePost, target.Id, failure!, 0);
                if (step.Mode == ExtensionMode.Required)
                {
                    return new PostStream([], FailureError(step.Id, StagePost, failure!));
                }
                SkipFailed(request, step.Id, StagePost, failure!);
                continue;
            }
            stages.Add(new PostStream.ChunkStage(this, request, target, step));
        }
        return new PostStream([.. stages], null);
    }

    /// <summary>Every known extension's health (registry entries and built-ins), ordered by id.</summary>
    public IReadOnlyList<ExtensionHealth> Health()
    {
        var entries = new Dictionary<string, ExtensionEntry>(StringComparer.Ordinal);
        foreach (var entry in _registry.Entries)
        {
            entries.TryAdd(entry.Id, entry);
        }
        var ids = new SortedSet<string>(entries.Keys, StringComparer.Ordinal);
        ids.UnionWith(_builtIns.Keys);
        var rows = new List<ExtensionHealth>(ids.Count);
        foreach (var id in ids)
        {
            var target = Resolve(id);
            entries.TryGetValue(id, out var entry);
            var (type, source, subject) = target switch
            {
                { IsService: true } => (target.Entry!.Type, "nats", target.Entry.Subject),
                { BuiltIn: { } builtIn } => (builtIn.Type, "builtin", null),
                _ => (entry!.Type, string.IsNullOrEmpty(entry.Subject) ? "builtin" : "nats", entry.Subject),
            };
            var row = new ExtensionHealth { Id = id, Type = type, Source = source, Subject = subject, Breaker = "closed" };
            if (_states.TryGetValue(id, out var state))
            {
                var s = state.Snapshot();
                row = row with
                {
                    Calls = s.Calls,
                    Failures = s.Failures,
                    Timeouts = s.Timeouts,
                    P50Ms = s.P50,
                    P99Ms = s.P99,
                    Breaker = s.Breaker,
                    LastError = s.LastError,
                    LastErrorAt = s.LastErrorAt,
                };
            }
            rows.Add(row);
        }
        return rows;
    }
}

/// <summary>The answer after post extensions, or the error that fails the request.</summary>
public readonly record struct PostOutcome(ReadOnlyMemory<byte> Answer, PayloadKind Kind, Cp1Error? Error);

/// <summary>A required post extension failed mid-stream: the stream ends with <see cref="Error"/>.</summary>
public sealed class ExtensionFailedException(Cp1Error error) : Exception(error.Message)
{
    /// <summary>The CP1 error.</summary>
    public Cp1Error Error { get; } = error;
}

/// <summary>The request metadata keys the runner writes.</summary>
public static class ExtensionMetadataKeys
{
    /// <summary>The ids of steps skipped (unknown, or optional and failed), comma-separated in order.</summary>
    public const string Skipped = "extensions_skipped";

    /// <summary>The ids of validators with <c>on_fail: warn</c> that rejected (or failed), comma-separated in policy order.</summary>
    public const string ValidatorWarnings = "validator_warnings";

    /// <summary>The index (from 0) of the chunk a streamed post call is about, in the metadata sent with it.</summary>
    public const string StreamChunk = "stream_chunk";
}

/// <summary>The runner's breaker settings. The defaults suit extensions that answer in milliseconds.</summary>
public sealed class ExtensionRunnerOptions
{
    /// <summary>Consecutive failed attempts that open an extension's breaker. Defaults to 5.</summary>
    public int BreakerFailureThreshold { get; set; } = 5;

    /// <summary>How long an open breaker fails calls fast before it lets one trial through. Defaults to 5 s.</summary>
    public TimeSpan BreakerOpenTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a half-open trial slot stays taken without an outcome (a call abandoned mid-way). Defaults to 30 s.</summary>
    public TimeSpan BreakerTrialTimeout { get; set; } = TimeSpan.FromSeconds(30);
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
