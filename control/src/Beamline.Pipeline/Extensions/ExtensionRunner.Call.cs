using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Extensions.Internal;
using Beamline.Pipeline.Telemetry;
using Beamline.Policies;

namespace Beamline.Pipeline.Extensions;

public sealed partial class ExtensionRunner
{
    /// <summary>The timeout of a service call whose entry gives none (<c>timeout_ms</c> ≤ 0).</summary>
    private const int DefaultTimeoutMs = 100;

    /// <summary>What a step id resolves to now: a service (entry with a subject), a built-in, or nothing.</summary>
    internal readonly record struct Target(string Id, ExtensionEntry? Entry, IBuiltInExtension? BuiltIn, ExtensionState? State)
    {
        public bool IsKnown => State is not null;

        public bool IsService => BuiltIn is null && Entry is not null;
    }

    private Target Resolve(string id)
    {
        _registry.TryGet(id, out var entry);
        if (entry is { Enabled: true, Subject.Length: > 0 })
        {
            return new Target(id, entry, null, StateOf(id));
        }
        if (_builtIns.TryGetValue(id, out var builtIn))
        {
            return new Target(id, entry is { Enabled: true } ? entry : null, builtIn, StateOf(id));
        }
        return new Target(id, null, null, null);
    }

    private ExtensionState StateOf(string id) =>
        _states.TryGetValue(id, out var state)
            ? state
            : _states.GetOrAdd(id, static (_, runner) => new ExtensionState(runner._breakerSettings, runner._time), this);

    internal ExtensionInput InputFor(Target target, ExtensionStep step, PipelineRequest request, ReadOnlyMemory<byte> payload, PayloadKind kind,
        IReadOnlyDictionary<string, string> metadata) => new()
        {
            TenantId = request.TenantId,
            RequestId = request.RequestId,
            TraceId = request.TraceId,
            Payload = payload,
            PayloadKind = kind,
            Metadata = metadata,
            // Policy config is for built-ins only: it is never sent to a service.
            Config = target.BuiltIn is null ? null : ConfigFor(target.Entry, step),
        };

    /// <summary>The entry's config with the step's merged over it (top-level members; the step wins), cached per step.</summary>
    private JsonElement? ConfigFor(ExtensionEntry? entry, ExtensionStep step)
    {
        var own = entry?.Config;
        if (step.Config is not { ValueKind: JsonValueKind.Object } over)
        {
            return own;
        }
        if (own is not { ValueKind: JsonValueKind.Object } under)
        {
            return over;
        }
        if (_mergedConfigs.TryGetValue(step, out var cached) && ReferenceEquals(cached.Entry, entry))
        {
            return cached.Config;
        }
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var member in under.EnumerateObject())
            {
                if (!over.TryGetProperty(member.Name, out _))
                {
                    member.WriteTo(writer);
                }
            }
            foreach (var member in over.EnumerateObject())
            {
                member.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var merged = document.RootElement.Clone();
        _mergedConfigs.AddOrUpdate(step, new MergedConfig(entry, merged));
        return merged;
    }

    /// <summary>Calls the step's extension (with retries and breaker for a service) and emits its event.</summary>
    internal async ValueTask<ExtensionReply> InvokeAsync(Target target, ExtensionInput input, PipelineRequest request, string stage,
        CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        using var span = PipelineTracing.StartExtensionCall(target.Id, stage, request.TenantId, request.RequestId);
        var reply = target.BuiltIn is { } builtIn
            ? InvokeBuiltIn(target.State!, builtIn, input)
            : await CallServiceAsync(target.Entry!, target.State!, input, cancellationToken).ConfigureAwait(false);
        if (span is not null)
        {
            PipelineTracing.SetOutcome(span, StatusOf(reply), reply.Failure == ExtensionFailure.None ? null : reply.Message);
        }
        EmitStep(request, stage, target.Id, reply, _time.GetElapsedTime(started).TotalMilliseconds);
        return reply;
    }

    private ExtensionReply InvokeBuiltIn(ExtensionState state, IBuiltInExtension builtIn, ExtensionInput input)
    {
        if (!state.Breaker.TryAcquire())
        {
            return BreakerOpen(builtIn.Id);
        }
        var started = _time.GetTimestamp();
        ExtensionReply reply;
        try
        {
            reply = builtIn.Invoke(input) ?? ExtensionReply.Failed(ExtensionFailure.Malformed, "the built-in returned no reply");
        }
#pragma warning disable CA1031 // a built-in's bug is that extension's failure, not the request pipeline's
        catch (Exception e)
#pragma warning restore CA1031
        {
            reply = ExtensionReply.Failed(ExtensionFailure.Error, $"the built-in threw {e.GetType().Name}: {e.Message}");
        }
        state.Record(reply, _time.GetElapsedTime(started).TotalMilliseconds);
        return reply;
    }

    private async ValueTask<ExtensionReply> CallServiceAsync(ExtensionEntry entry, ExtensionState state, ExtensionInput input,
        CancellationToken cancellationToken)
    {
        if (_transport is null)
        {
            return ExtensionReply.Failed(ExtensionFailure.Unavailable, $"no extension transport (NATS) is configured to reach {entry.Subject}");
        }
        var timeout = TimeSpan.FromMilliseconds(entry.TimeoutMs > 0 ? entry.TimeoutMs : DefaultTimeoutMs);
        var attempts = 1 + Math.Max(0, entry.Retry);
        ExtensionReply? reply = null;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!state.Breaker.TryAcquire())
            {
                // The breaker opened on an earlier attempt: its failure says more than "open".
                return reply ?? BreakerOpen(entry.Id);
            }
            var started = _time.GetTimestamp();
            try
            {
                reply = await AttemptAsync(entry, input, timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                state.Breaker.ReleaseTrial();
                throw;
            }
            state.Record(reply, _time.GetElapsedTime(started).TotalMilliseconds);
            if (reply.Failure == ExtensionFailure.None)
            {
                return reply;
            }
        }
        return reply!;
    }

    /// <summary>One attempt, bounded by <paramref name="timeout"/>: a reply that comes later is ignored.</summary>
    private async ValueTask<ExtensionReply> AttemptAsync(ExtensionEntry entry, ExtensionInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var pending = _transport!.CallAsync(entry, input, timeout, deadline.Token);
            var reply = pending.IsCompletedSuccessfully
                ? pending.Result
                : await pending.AsTask().WaitAsync(deadline.Token).ConfigureAwait(false);
            if (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return TimedOut(entry, timeout);
            }
            return reply ?? ExtensionReply.Failed(ExtensionFailure.Malformed, "the transport returned no reply");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return TimedOut(entry, timeout);
        }
#pragma warning disable CA1031 // the transport contract says it never throws; one that does fails this call only
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return ExtensionReply.Failed(ExtensionFailure.Error, $"the transport failed: {e.Message}");
        }
    }

    private (IStreamRewriter? Rewriter, ExtensionReply? Failure) BeginRewriter(Target target, ExtensionStep step, PipelineRequest request,
        IStreamingPostExtension streaming)
    {
        var state = target.State!;
        if (!state.Breaker.TryAcquire())
        {
            return (null, BreakerOpen(target.Id));
        }
        var started = _time.GetTimestamp();
        try
        {
            var input = InputFor(target, step, request, ReadOnlyMemory<byte>.Empty, PayloadKind.Text, request.Metadata);
            return (streaming.BeginStream(input) ?? throw new InvalidOperationException("BeginStream returned null"), null);
        }
#pragma warning disable CA1031 // as in InvokeBuiltIn
        catch (Exception e)
#pragma warning restore CA1031
        {
            var failure = ExtensionReply.Failed(ExtensionFailure.Error, $"the built-in threw {e.GetType().Name}: {e.Message}");
            state.Record(failure, _time.GetElapsedTime(started).TotalMilliseconds);
            return (null, failure);
        }
    }

    internal long Timestamp() => _time.GetTimestamp();

    internal double ElapsedMs(long fromTimestamp, long toTimestamp) => _time.GetElapsedTime(fromTimestamp, toTimestamp).TotalMilliseconds;

    private static ExtensionReply TimedOut(ExtensionEntry entry, TimeSpan timeout) =>
        ExtensionReply.Failed(ExtensionFailure.Timeout, $"no answer on {entry.Subject} within {timeout.TotalMilliseconds:0} ms");

    private static ExtensionReply BreakerOpen(string id) =>
        ExtensionReply.Failed(ExtensionFailure.Unavailable, $"the circuit breaker of '{id}' is open after repeated failures");

    internal static string StatusOf(ExtensionReply reply) => reply.Failure switch
    {
        ExtensionFailure.None => reply.Rejected ? "reject" : "ok",
        ExtensionFailure.Timeout => "timeout",
        ExtensionFailure.Unavailable => "unavailable",
        ExtensionFailure.Malformed => "malformed",
        _ => "error",
    };

    internal static Cp1Error FailureError(string id, string stage, ExtensionReply reply) => reply.Failure switch
    {
        ExtensionFailure.Timeout => new Cp1Error(Cp1ErrorCodes.ExtensionTimeout, $"{stage} extension '{id}' timed out: {reply.Message}"),
        ExtensionFailure.Unavailable => new Cp1Error(Cp1ErrorCodes.ExtensionUnavailable, $"{stage} extension '{id}' is unavailable: {reply.Message}"),
        ExtensionFailure.Malformed => new Cp1Error(Cp1ErrorCodes.ExtensionUnavailable, $"{stage} extension '{id}' answered a malformed reply: {reply.Message}"),
        _ => new Cp1Error(Cp1ErrorCodes.ExtensionUnavailable, $"{stage} extension '{id}' failed: {reply.Message}"),
    };

    private Cp1Error NotFound(PipelineRequest request, string id, string stage)
    {
        Emit(request, ActivityKinds.Extension, stage, id, Cp1ErrorCodes.ExtensionNotFound, null, "not registered");
        return new Cp1Error(Cp1ErrorCodes.ExtensionNotFound, $"{stage} extension '{id}' is not registered (no enabled registry entry, no built-in)");
    }

    private static Cp1Error Blocked(string id, string reason, JsonElement? details)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("validator", id);
            writer.WriteString("reason", reason);
            if (details is { } value)
            {
                writer.WritePropertyName("details");
                value.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return new Cp1Error(Cp1ErrorCodes.ValidatorBlocked, $"validator '{id}' blocked the request: {reason}")
        {
            Details = document.RootElement.Clone(),
        };
    }

    /// <summary>
    /// Null when <paramref name="after"/> is a fit replacement: valid JSON under <see cref="PayloadKind.Json"/>,
    /// and still a JSON object where <paramref name="before"/> was one.
    /// </summary>
    internal static Cp1Error? CheckPayload(string id, string stage, ReadOnlyMemory<byte> before, PayloadKind beforeKind,
        ReadOnlyMemory<byte> after, PayloadKind afterKind)
    {
        var first = JsonTokenType.None;
        if (afterKind == PayloadKind.Json && !IsJson(after.Span, out first))
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"{stage} extension '{id}' replaced the payload with one that is not valid JSON",
                "payload", Cp1ErrorTypes.InvalidJson);
        }
        if (beforeKind == PayloadKind.Json && IsObject(before.Span) && first != JsonTokenType.StartObject)
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                $"{stage} extension '{id}' replaced the JSON object payload with {(afterKind == PayloadKind.Json ? "a JSON value that is not an object" : afterKind.ToString().ToLowerInvariant())}",
                "payload", Cp1ErrorTypes.InvalidType);
        }
        return null;
    }

    private static bool IsJson(ReadOnlySpan<byte> json, out JsonTokenType first)
    {
        first = JsonTokenType.None;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read())
            {
                return false;
            }
            first = reader.TokenType;
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsObject(ReadOnlySpan<byte> json)
    {
        var start = json.IndexOfAnyExcept(" \t\r\n"u8);
        return start >= 0 && json[start] == (byte)'{';
    }

    private void SkipUnknown(PipelineRequest request, string id, string stage)
    {
        LogSkippedUnknown(id, stage, request.RequestId);
        AppendTo(request.Metadata, ExtensionMetadataKeys.Skipped, id);
        Emit(request, ActivityKinds.Extension, stage, id, "skipped", null, "not registered");
    }

    internal void SkipFailed(PipelineRequest request, string id, string stage, ExtensionReply reply)
    {
        LogSkippedFailed(id, stage, request.RequestId, StatusOf(reply), reply.Message);
        AppendTo(request.Metadata, ExtensionMetadataKeys.Skipped, id);
    }

    internal static void AppendTo(Dictionary<string, string> metadata, string key, string id)
    {
        metadata[key] = metadata.TryGetValue(key, out var list) && list.Length > 0 ? list + "," + id : id;
    }

    private static void Merge(Dictionary<string, string> metadata, IReadOnlyDictionary<string, string>? from)
    {
        if (from is null)
        {
            return;
        }
        foreach (var (key, value) in from)
        {
            metadata[key] = value;
        }
    }

    internal void EmitStep(PipelineRequest request, string stage, string id, ExtensionReply reply, double latencyMs)
    {
        _metrics?.ExtensionCalled(id, stage, StatusOf(reply), latencyMs);
        if (_activity.IsEnabled)
        {
            Emit(request, ActivityKinds.Extension, stage, id, StatusOf(reply), latencyMs, reply.Message ?? reply.Reason);
        }
    }

    internal void EmitPostChange(PipelineRequest request, string id, string detail) =>
        Emit(request, ActivityKinds.PostChange, StagePost, id, "ok", null, detail);

    private void Emit(PipelineRequest request, string kind, string stage, string id, string status, double? latencyMs, string? detail)
    {
        if (!_activity.IsEnabled)
        {
            return;
        }
        _activity.Publish(new ActivityEvent
        {
            Time = _time.GetUtcNow(),
            Kind = kind,
            TenantId = request.TenantId,
            RequestId = request.RequestId,
            TraceId = request.TraceId,
            Stage = stage,
            Subject = id,
            Status = status,
            LatencyMs = latencyMs,
            Detail = detail,
        });
    }

    private sealed record MergedConfig(ExtensionEntry? Entry, JsonElement Config);
}
