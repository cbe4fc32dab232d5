using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Beamline.Cp1;
using Beamline.Pipeline.Activity;
using Beamline.Pipeline.Costs;
using Beamline.Pipeline.Extensions;
using Beamline.Pipeline.Providers;
using Beamline.Policies;
using Beamline.Routing;
using Beamline.Routing.Fallbacks;

namespace Beamline.Pipeline;

/// <summary>The streamed execute: the same stages, with the answer passed on chunk by chunk.</summary>
public sealed partial class RequestPipeline
{
    /// <summary>
    /// Like <see cref="ExecuteAsync"/>, but the provider's answer comes back as it streams: each
    /// chunk is passed on as soon as it arrives (post extensions see the stream and hold back at
    /// most a bounded tail), then the result — always last, exactly once. A provider that fails
    /// before its first chunk falls back as a whole call would; once a chunk has been passed on,
    /// a failure ends the stream with an error result. Stopping the enumeration cancels the call.
    /// </summary>
    /// <remarks>
    /// With post extensions, a stream whose format an <see cref="IStreamTextCodec"/> reads (the
    /// gateway's server-sent events) is passed on as events in that format whose text the post
    /// extensions rewrote; any other stream's chunks are rewritten as raw text. Without post
    /// extensions chunks pass untouched, unread.
    /// </remarks>
    public async IAsyncEnumerable<ExecuteStreamItem> ExecuteStreamAsync(PipelineRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = _logger.BeginScope(new RequestLogScope(request));
        Emit(request, ActivityKinds.Received, stage: request.Face);
        if (Deny(request) is { } denied)
        {
            yield return Last(Final(request, new ExecuteResult { Error = denied }));
            yield break;
        }
        using var lease = Admit(request);
        if (!lease.IsAdmitted)
        {
            yield return Last(Final(request, new ExecuteResult { Error = QuotaError(lease) }));
            yield break;
        }
        using var deadline = StartDeadline(request, cancellationToken);
        var policy = _routing.TryGetPolicy(request.TenantId, request.PolicyId, out var found) ? found : null;
        if (policy is not null)
        {
            var refused = await Guarded(() => RunRequestExtensionsAsync(request, policy, deadline.Token), request, deadline, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                yield return Last(Final(request, new ExecuteResult { Error = refused, PolicyId = policy.Id }));
                yield break;
            }
        }

        CountPromptForRouting(request, policy);
        var route = request.ToRouteRequest();
        var decision = Decide(request, route);
        EmitDecision(request, decision);
        if (!decision.IsSuccess)
        {
            yield return Last(Final(request, new ExecuteResult { Error = DecisionError(decision), PolicyId = decision.PolicyId }));
            yield break;
        }
        var attempts = new List<ProviderAttempt>(4);
        var cursor = default(FallbackCursor);
        var post = policy is null || policy.Post.IsEmpty ? null : _extensions.BeginPostStream(request, policy.Post);
        var text = post is null ? null : new StreamText();
        IStreamTextSession? session = null;
        var format = WireFormat.None;
        var sent = 0;
        IStreamMeter? meter = null;
        var streamFormat = WireFormat.None;
        using var hash = BeginStreamHash();
        Charge openCharge = default;
        try
        {
            while (true)
            {
                var providerId = decision.ProviderId!;
                var prepared = Prepare(request, decision, attempts);
                if (prepared.Refusal is not null)
                {
                    yield return Last(Final(request, new ExecuteResult { Error = prepared.Refusal, PolicyId = decision.PolicyId, Attempts = attempts }));
                    yield break;
                }
                if (prepared.Call is { } call)
                {
                    var started = Stopwatch.GetTimestamp();
                    ProviderAnswer? answer = null;
                    Cp1Error? ended = null;
                    string? stopped = null;
                    var charge = prepared.Charge;
                    openCharge = charge;
                    var items = prepared.Client!.StreamAsync(call, deadline.Token).GetAsyncEnumerator(deadline.Token);
                    try
                    {
                        while (true)
                        {
                            var step = await Next(items, request, deadline, cancellationToken).ConfigureAwait(false);
                            if (step.Error is not null)
                            {
                                ended = step.Error;
                                break;
                            }
                            if (!step.HasItem)
                            {
                                break;
                            }
                            var item = step.Item;
                            if (item.Final is { } final)
                            {
                                answer = final;
                                break;
                            }
                            if (sent == 0)
                            {
                                Emit(request, ActivityKinds.FirstChunk, subject: providerId, latencyMs: Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                                streamFormat = item.Format;
                                meter = charge.IsMetered ? _costs!.BeginStream(request, charge.Quote, item.Format) : null;
                                if (post is not null)
                                {
                                    // The first chunk fixes the stream's format: no other provider takes over after it.
                                    format = item.Format;
                                    session = BeginText(format);
                                }
                            }
                            sent++;
                            var data = meter is null ? item.Data : meter.Push(item.Data);
                            if (meter is not null && charge.Limits && meter.OutputTokens > charge.Quote.MaxOutputTokens)
                            {
                                // An upstream ignoring max_tokens ran past what was reserved: end the stream cleanly, saying why.
                                stopped = BudgetReason;
                            }
                            if (post is null)
                            {
                                if (!data.IsEmpty)
                                {
                                    hash?.AppendData(data.Span);
                                    yield return new ExecuteStreamItem(data, null) { Format = item.Format };
                                }
                                if (stopped is not null)
                                {
                                    break;
                                }
                                continue;
                            }
                            if (session is not null)
                            {
                                var rewrittenEvents = await RewriteEvents(post, session, session.Push(data.Span), final: false, deadline.Token).ConfigureAwait(false);
                                if (rewrittenEvents.Error is not null)
                                {
                                    ended = rewrittenEvents.Error;
                                    break;
                                }
                                if (rewrittenEvents.Bytes.Length > 0)
                                {
                                    hash?.AppendData(rewrittenEvents.Bytes);
                                    yield return new ExecuteStreamItem(rewrittenEvents.Bytes, null) { Format = format };
                                }
                                if (stopped is not null)
                                {
                                    break;
                                }
                                continue;
                            }
                            var rewritten = await PushPost(post, text!.Decode(data.Span), deadline.Token).ConfigureAwait(false);
                            if (rewritten.Error is not null)
                            {
                                ended = rewritten.Error;
                                break;
                            }
                            if (rewritten.Text.Length > 0)
                            {
                                var bytes = Encoding.UTF8.GetBytes(rewritten.Text);
                                hash?.AppendData(bytes);
                                yield return new ExecuteStreamItem(bytes, null) { Format = item.Format };
                            }
                            if (stopped is not null)
                            {
                                break;
                            }
                        }
                    }
                    finally
                    {
                        await items.DisposeAsync().ConfigureAwait(false);
                    }
                    if (ended is not null)
                    {
                        _routing.ReleaseTrial(request.TenantId, decision.PolicyId, providerId);
                        // What streamed before the end was produced upstream, and is charged; nothing streamed, nothing charged.
                        openCharge = default;
                        var partial = meter is not null ? Settle(charge, meter.Usage) : default;
                        if (meter is null)
                        {
                            Release(charge);
                        }
                        yield return Last(Final(request, new ExecuteResult
                        {
                            Error = ended, PolicyId = decision.PolicyId, Attempts = attempts, Model = partial.Model, Usage = partial.Usage, CostNanos = partial.CostNanos,
                        }));
                        yield break;
                    }
                    if (stopped is not null)
                    {
                        // The provider did answer: its outcome is a success, and what it streamed is charged.
                        if (post is not null)
                        {
                            // What the post steps held back goes out before the stream's last event.
                            var held = await FlushPost(post, session is null ? text!.Decode([], flush: true) : string.Empty, deadline.Token).ConfigureAwait(false);
                            if (held.Text.Length > 0)
                            {
                                byte[] heldBytes;
                                if (session is null)
                                {
                                    heldBytes = Encoding.UTF8.GetBytes(held.Text);
                                }
                                else
                                {
                                    var written = new ArrayBufferWriter<byte>(held.Text.Length + 128);
                                    session.WriteText(held.Text, written);
                                    heldBytes = written.WrittenSpan.ToArray();
                                }
                                hash?.AppendData(heldBytes);
                                yield return new ExecuteStreamItem(heldBytes, null) { Format = session is null ? WireFormat.None : format };
                            }
                        }
                        var end = meter!.End(stopped);
                        if (!end.IsEmpty)
                        {
                            hash?.AppendData(end.Span);
                            yield return new ExecuteStreamItem(end, null) { Format = streamFormat };
                        }
                        openCharge = default;
                        var spentSoFar = Settle(charge, meter.Usage);
                        var okAnswer = new ProviderAnswer(true, FailureKinds.None, "ok", null, null, 200, default);
                        Record(request, decision, okAnswer, Stopwatch.GetElapsedTime(started), attempts, cancellationToken, deadline.Token, spentSoFar);
                        yield return Last(Final(request, new ExecuteResult
                        {
                            PolicyId = decision.PolicyId, ProviderId = providerId, Attempts = attempts, StopReason = stopped,
                            Model = spentSoFar.Model, Usage = spentSoFar.Usage, CostNanos = spentSoFar.CostNanos, StreamSha256 = hash?.GetHashAndReset(),
                        }));
                        yield break;
                    }
                    answer ??= new ProviderAnswer(false, FailureKinds.ServerError, "error", "stream_ended", $"provider '{providerId}' ended its stream without a result", 0, default);
                    // Settled before the outcome is recorded (recording rethrows a cancellation): chunks that streamed were produced upstream.
                    Spent spent = default;
                    openCharge = default;
                    if (answer.Value.Succeeded || sent > 0)
                    {
                        spent = meter is not null ? Settle(charge, meter.Usage)
                            : answer.Value.Succeeded ? Settle(charge, request, answer.Value) : default;
                        if (meter is null && !answer.Value.Succeeded)
                        {
                            Release(charge);
                        }
                    }
                    else
                    {
                        Release(charge);
                    }
                    Record(request, decision, answer.Value, Stopwatch.GetElapsedTime(started), attempts, cancellationToken, deadline.Token, spent);
                    if (answer.Value.Succeeded)
                    {
                        if (meter is not null && meter.Complete() is { IsEmpty: false } held)
                        {
                            // An event the meter held at a chunk's end (the stream ended without its blank line).
                            if (session is not null)
                            {
                                var heldEvents = await RewriteEvents(post!, session, session.Push(held.Span), final: false, deadline.Token).ConfigureAwait(false);
                                if (heldEvents.Bytes.Length > 0)
                                {
                                    hash?.AppendData(heldEvents.Bytes);
                                    yield return new ExecuteStreamItem(heldEvents.Bytes, null) { Format = format };
                                }
                            }
                            else if (post is null)
                            {
                                hash?.AppendData(held.Span);
                                yield return new ExecuteStreamItem(held, null) { Format = streamFormat };
                            }
                        }
                        if (session is not null)
                        {
                            var rest = await RewriteEvents(post!, session, session.Complete(), final: true, deadline.Token).ConfigureAwait(false);
                            if (rest.Error is not null)
                            {
                                yield return Last(Final(request, new ExecuteResult { Error = rest.Error, PolicyId = decision.PolicyId, Attempts = attempts }));
                                yield break;
                            }
                            if (rest.Bytes.Length > 0)
                            {
                                hash?.AppendData(rest.Bytes);
                                yield return new ExecuteStreamItem(rest.Bytes, null) { Format = format };
                            }
                        }
                        else if (post is not null)
                        {
                            var rest = await FlushPost(post, text!.Decode([], flush: true), deadline.Token).ConfigureAwait(false);
                            if (rest.Error is not null)
                            {
                                yield return Last(Final(request, new ExecuteResult { Error = rest.Error, PolicyId = decision.PolicyId, Attempts = attempts }));
                                yield break;
                            }
                            if (rest.Text.Length > 0)
                            {
                                var restBytes = Encoding.UTF8.GetBytes(rest.Text);
                                hash?.AppendData(restBytes);
                                yield return new ExecuteStreamItem(restBytes, null);
                            }
                        }
                        yield return Last(Final(request, new ExecuteResult
                        {
                            PolicyId = decision.PolicyId,
                            ProviderId = providerId,
                            Attempts = attempts,
                            Output = answer.Value.Output,
                            Model = spent.Model,
                            Usage = spent.Usage,
                            CostNanos = spent.CostNanos,
                            StreamSha256 = sent > 0 ? hash?.GetHashAndReset() : null,
                        }));
                        yield break;
                    }
                    if (answer.Value.Failure == FailureKinds.None || sent > 0)
                    {
                        // Part of the answer is already with the client: no other provider can take over.
                        var error = sent > 0
                            ? new Cp1Error(Cp1ErrorCodes.DecisionFailed, $"provider '{providerId}' failed after streaming part of its answer: {answer.Value.Message ?? answer.Value.ErrorCode}")
                            : NoFallbackError(providerId, answer.Value);
                        yield return Last(Final(request, new ExecuteResult
                        {
                            Error = error, PolicyId = decision.PolicyId, Attempts = attempts, Model = spent.Model, Usage = spent.Usage, CostNanos = spent.CostNanos,
                        }));
                        yield break;
                    }
                }
                var next = _routing.DecideFallback(route, ref cursor, providerId, attempts[^1].Answer.Failure);
                if (!next.IsSuccess)
                {
                    yield return Last(Final(request, new ExecuteResult { Error = ExhaustedError(next, attempts[^1].Answer), PolicyId = decision.PolicyId, Attempts = attempts }));
                    yield break;
                }
                EmitDecision(request, next);
                decision = next;
            }
        }
        finally
        {
            // The caller went away (or the control plane stops) mid-call: what streamed was produced upstream and is charged;
            // a call that streamed nothing gives its reservation back.
            if (openCharge.IsMetered)
            {
                var spent = meter is not null && sent > 0 ? Settle(openCharge, meter.Usage) : default;
                if (meter is null || sent == 0)
                {
                    Release(openCharge);
                }
                Abandoned(request, attempts, spent, openCharge.Provider!.Id);
            }
        }
    }

    private static ExecuteStreamItem Last(ExecuteResult result) => new(default, result);

    private readonly record struct StreamStep(bool HasItem, ProviderStreamItem Item, Cp1Error? Error);

    // The deadline ends the stream with an error result; the caller's own cancellation escapes.
    private static async ValueTask<StreamStep> Next(IAsyncEnumerator<ProviderStreamItem> items, PipelineRequest request, CancellationTokenSource deadline,
        CancellationToken callerToken)
    {
        try
        {
            return await items.MoveNextAsync().ConfigureAwait(false) ? new StreamStep(true, items.Current, null) : default;
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            return new StreamStep(false, default, DeadlineError(request, "the provider's stream"));
        }
    }

    private async ValueTask<Cp1Error?> Guarded(Func<ValueTask<Cp1Error?>> stage, PipelineRequest request, CancellationTokenSource deadline,
        CancellationToken callerToken)
    {
        try
        {
            return await stage().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            return DeadlineError(request, "the extensions");
        }
    }

    private readonly record struct PostText(string Text, Cp1Error? Error);

    private static async ValueTask<PostText> PushPost(PostStream post, string text, CancellationToken cancellationToken)
    {
        try
        {
            return new PostText(text.Length == 0 ? string.Empty : await post.PushAsync(text, cancellationToken).ConfigureAwait(false), null);
        }
        catch (ExtensionFailedException e)
        {
            return new PostText(string.Empty, e.Error);
        }
    }

    private static async ValueTask<PostText> FlushPost(PostStream post, string text, CancellationToken cancellationToken)
    {
        try
        {
            var pushed = text.Length == 0 ? string.Empty : await post.PushAsync(text, cancellationToken).ConfigureAwait(false);
            return new PostText(pushed + await post.FlushAsync(cancellationToken).ConfigureAwait(false), null);
        }
        catch (ExtensionFailedException e)
        {
            return new PostText(string.Empty, e.Error);
        }
    }

    private IStreamTextSession? BeginText(WireFormat format)
    {
        foreach (var codec in _textCodecs)
        {
            if (codec.Begin(format) is { } session)
            {
                return session;
            }
        }
        return null;
    }

    private readonly record struct PostEvents(byte[] Bytes, Cp1Error? Error);

    /// <summary>
    /// Events through the post stream: each event's text is pushed and the event written with what
    /// came out (possibly shorter, even empty: it is written anyway, keeping every other field);
    /// where the text ends, what the steps held back is drained into the event (its own text, or
    /// one more text event before it). <paramref name="final"/>: the stream ends, the post stream is flushed.
    /// </summary>
    private static async ValueTask<PostEvents> RewriteEvents(PostStream post, IStreamTextSession session, IReadOnlyList<StreamTextEvent> events, bool final,
        CancellationToken cancellationToken)
    {
        var output = new ArrayBufferWriter<byte>(256);
        try
        {
            for (var i = 0; i < events.Count; i++)
            {
                var item = events[i];
                var text = item.Text is { Length: > 0 } delta ? await post.PushAsync(delta, cancellationToken).ConfigureAwait(false) : item.Text;
                if (item.EndsText && await post.DrainAsync(cancellationToken).ConfigureAwait(false) is { Length: > 0 } held)
                {
                    text += held;
                }
                item.WriteTo(output, text);
            }
            if (final)
            {
                var rest = await post.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (rest.Length > 0)
                {
                    session.WriteText(rest, output);
                }
            }
        }
        catch (ExtensionFailedException e)
        {
            return new PostEvents([], e.Error);
        }
        return new PostEvents(output.WrittenSpan.ToArray(), null);
    }

    /// <summary>UTF-8 chunks to text, keeping a character split across two chunks whole.</summary>
    private sealed class StreamText
    {
        private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();

        public string Decode(ReadOnlySpan<byte> bytes, bool flush = false)
        {
            var chars = new char[_decoder.GetCharCount(bytes, flush)];
            var count = _decoder.GetChars(bytes, chars, flush);
            return new string(chars, 0, count);
        }
    }
}
