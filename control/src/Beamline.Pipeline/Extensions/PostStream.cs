using System.Text;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Policies;

namespace Beamline.Pipeline.Extensions;

/// <summary>
/// Post extensions over one streamed answer's text (from <see cref="ExtensionRunner.BeginPostStream"/>):
/// each chunk passes through the steps in order. One stream, one caller at a time: not thread-safe.
/// </summary>
/// <remarks>
/// A required step's failure throws <see cref="ExtensionFailedException"/> from that call and from every
/// later one; an optional step's failure passes its chunk through unchanged (a streaming built-in that
/// throws is bypassed for the rest of the stream; text it held back is lost). Metadata in the replies
/// of per-chunk calls is not merged into the request.
/// </remarks>
public sealed class PostStream
{
    internal static readonly PostStream Empty = new([], null);

    private readonly Stage[] _stages;
    private Cp1Error? _failed;

    internal PostStream(Stage[] stages, Cp1Error? failed)
    {
        _stages = stages;
        _failed = failed;
    }

    /// <summary>True when no post step applies: the stream passes through untouched.</summary>
    public bool IsEmpty => _stages.Length == 0 && _failed is null;

    /// <summary>The next text chunk; returns what may be sent now, or throws <see cref="ExtensionFailedException"/> for a required failure.</summary>
    public async ValueTask<string> PushAsync(string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        ThrowIfFailed();
        try
        {
            for (var i = 0; i < _stages.Length; i++)
            {
                text = await _stages[i].PushAsync(text, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ExtensionFailedException e)
        {
            _failed = e.Error;
            throw;
        }
        return text;
    }

    /// <summary>The end of the stream: what is left.</summary>
    public ValueTask<string> FlushAsync(CancellationToken cancellationToken) => EndAsync(final: true, cancellationToken);

    /// <summary>
    /// The end of a run of text while the stream goes on (a content block closes, the answer's text
    /// ends before its usage): returns what the steps hold back, so that the text so far is complete.
    /// Unlike <see cref="FlushAsync"/> it reports nothing; the stream still ends with <see cref="FlushAsync"/>.
    /// </summary>
    public ValueTask<string> DrainAsync(CancellationToken cancellationToken) => EndAsync(final: false, cancellationToken);

    private async ValueTask<string> EndAsync(bool final, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        var carry = string.Empty;
        try
        {
            for (var i = 0; i < _stages.Length; i++)
            {
                var pushed = carry.Length > 0 ? await _stages[i].PushAsync(carry, cancellationToken).ConfigureAwait(false) : string.Empty;
                var rest = final
                    ? await _stages[i].FlushAsync(cancellationToken).ConfigureAwait(false)
                    : await _stages[i].DrainAsync(cancellationToken).ConfigureAwait(false);
                carry = pushed + rest;
            }
        }
        catch (ExtensionFailedException e)
        {
            _failed = e.Error;
            throw;
        }
        return carry;
    }

    private void ThrowIfFailed()
    {
        if (_failed is { } error)
        {
            throw new ExtensionFailedException(error);
        }
    }

    /// <summary>One post step over the stream.</summary>
    internal abstract class Stage(ExtensionRunner runner, PipelineRequest request, ExtensionRunner.Target target, ExtensionStep step)
    {
        protected ExtensionRunner Runner { get; } = runner;

        protected PipelineRequest Request { get; } = request;

        protected ExtensionRunner.Target Target { get; } = target;

        protected ExtensionStep Step { get; } = step;

        public abstract ValueTask<string> PushAsync(string text, CancellationToken cancellationToken);

        public abstract ValueTask<string> FlushAsync(CancellationToken cancellationToken);

        /// <summary>What the step holds back, the stream going on (see <see cref="PostStream.DrainAsync"/>).</summary>
        public virtual ValueTask<string> DrainAsync(CancellationToken cancellationToken) => new(string.Empty);

        /// <summary>Applies the step's mode to a failure: throws when required, else notes the skip (once).</summary>
        protected void OnFailure(ExtensionReply failure, ref bool skipNoted)
        {
            if (Step.Mode == ExtensionMode.Required)
            {
                throw new ExtensionFailedException(ExtensionRunner.FailureError(Step.Id, ExtensionRunner.StagePost, failure));
            }
            if (!skipNoted)
            {
                skipNoted = true;
                Runner.SkipFailed(Request, Step.Id, ExtensionRunner.StagePost, failure);
            }
        }
    }

    /// <summary>A streaming built-in: its rewriter sees every piece of text; one call per stream in its health.</summary>
    internal sealed class RewriterStage(ExtensionRunner runner, PipelineRequest request, ExtensionRunner.Target target, ExtensionStep step,
        IStreamRewriter rewriter) : Stage(runner, request, target, step)
    {
        private readonly ChangeTracker _changes = new();
        private double _elapsedMs;
        private bool _bypassed;
        private bool _skipNoted;

        public override ValueTask<string> PushAsync(string text, CancellationToken cancellationToken)
        {
            if (_bypassed)
            {
                return new(text);
            }
            var started = Runner.Timestamp();
            string output;
            try
            {
                output = rewriter.Push(text) ?? string.Empty;
            }
#pragma warning disable CA1031 // a built-in's bug is that extension's failure
            catch (Exception e)
#pragma warning restore CA1031
            {
                Fail(e, started);
                return new(text);
            }
            _elapsedMs += Runner.ElapsedMs(started, Runner.Timestamp());
            _changes.Observe(text, output);
            return new(output);
        }

        public override ValueTask<string> DrainAsync(CancellationToken cancellationToken) => new(Drain());

        public override ValueTask<string> FlushAsync(CancellationToken cancellationToken)
        {
            var output = Drain();
            if (_bypassed)
            {
                return new(string.Empty); // bypassed before or by this call: its failure was reported then
            }
            var reply = ExtensionReply.Unchanged;
            Target.State!.Record(reply, _elapsedMs);
            Runner.EmitStep(Request, ExtensionRunner.StagePost, Target.Id, reply, _elapsedMs);
            if (_changes.Finish())
            {
                Runner.EmitPostChange(Request, Target.Id, "the streamed answer was rewritten");
            }
            return new(output);
        }

        // The rewriter's Flush: what it holds back; it then starts afresh (IStreamRewriter's contract).
        private string Drain()
        {
            if (_bypassed)
            {
                return string.Empty;
            }
            var started = Runner.Timestamp();
            string output;
            try
            {
                output = rewriter.Flush() ?? string.Empty;
            }
#pragma warning disable CA1031 // as in PushAsync
            catch (Exception e)
#pragma warning restore CA1031
            {
                Fail(e, started);
                return string.Empty;
            }
            _elapsedMs += Runner.ElapsedMs(started, Runner.Timestamp());
            _changes.Observe(string.Empty, output);
            return output;
        }

        private void Fail(Exception e, long started)
        {
            _bypassed = true;
            _elapsedMs += Runner.ElapsedMs(started, Runner.Timestamp());
            var failure = ExtensionReply.Failed(ExtensionFailure.Error, $"the built-in threw {e.GetType().Name}: {e.Message}");
            Target.State!.Record(failure, _elapsedMs);
            Runner.EmitStep(Request, ExtensionRunner.StagePost, Target.Id, failure, _elapsedMs);
            OnFailure(failure, ref _skipNoted);
        }
    }

    /// <summary>A service or a non-streaming built-in: called once per non-empty chunk.</summary>
    internal sealed class ChunkStage(ExtensionRunner runner, PipelineRequest request, ExtensionRunner.Target target, ExtensionStep step)
        : Stage(runner, request, target, step)
    {
        private int _index;
        private bool _changed;
        private bool _skipNoted;

        public override async ValueTask<string> PushAsync(string text, CancellationToken cancellationToken)
        {
            if (text.Length == 0)
            {
                return text;
            }
            var metadata = new Dictionary<string, string>(Request.Metadata, StringComparer.Ordinal)
            {
                [ExtensionMetadataKeys.StreamChunk] = (_index++).ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            var input = Runner.InputFor(Target, Step, Request, Encoding.UTF8.GetBytes(text), PayloadKind.Text, metadata);
            var reply = await Runner.InvokeAsync(Target, input, Request, ExtensionRunner.StagePost, cancellationToken).ConfigureAwait(false);
            if (reply.Failure == ExtensionFailure.None && reply.Payload is { } payload)
            {
                if (ChunkText(payload, reply.PayloadKind) is not { } rewritten)
                {
                    reply = ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply's payload for a stream chunk is not a JSON string");
                }
                else
                {
                    _changed |= !string.Equals(rewritten, text, StringComparison.Ordinal);
                    return rewritten;
                }
            }
            if (reply.Failure != ExtensionFailure.None)
            {
                OnFailure(reply, ref _skipNoted);
            }
            return text;
        }

        public override ValueTask<string> FlushAsync(CancellationToken cancellationToken)
        {
            if (_changed)
            {
                Runner.EmitPostChange(Request, Target.Id, "the streamed answer was rewritten");
            }
            return new(string.Empty);
        }

        private static string? ChunkText(ReadOnlyMemory<byte> payload, PayloadKind kind)
        {
            if (kind == PayloadKind.Text)
            {
                return Encoding.UTF8.GetString(payload.Span);
            }
            if (kind != PayloadKind.Json)
            {
                return null;
            }
            try
            {
                var reader = new Utf8JsonReader(payload.Span);
                return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Whether a rewriter's output differs from its input, without keeping either: only the input not
    /// yet matched by output is held (the rewriter's hold-back), and nothing once a difference is seen.
    /// </summary>
    internal sealed class ChangeTracker
    {
        private readonly StringBuilder _unmatched = new();

        public bool Changed { get; private set; }

        public void Observe(string input, string output)
        {
            if (Changed)
            {
                return;
            }
            _unmatched.Append(input);
            if (output.Length > _unmatched.Length)
            {
                SetChanged();
                return;
            }
            for (var i = 0; i < output.Length; i++)
            {
                if (_unmatched[i] != output[i])
                {
                    SetChanged();
                    return;
                }
            }
            _unmatched.Remove(0, output.Length);
        }

        /// <summary>The end of the stream: input never matched by output is a change too.</summary>
        public bool Finish()
        {
            if (!Changed && _unmatched.Length > 0)
            {
                SetChanged();
            }
            return Changed;
        }

        private void SetChanged()
        {
            Changed = true;
            _unmatched.Clear();
        }
    }
}
