namespace Beamline.Interop.Exec;

/// <summary>
/// Receives what a block started with <see cref="ExecRuntime.TryStartAsync"/> produces: its chunks, then its result,
/// exactly once. Both are called on the runtime's event thread (which serves every asynchronous block of the
/// runtime), or — for a block that ends before any I/O — on the thread that started it, before
/// <see cref="ExecRuntime.TryStartAsync"/> returns. Neither may block: hand the data on (a
/// <see cref="TaskCompletionSource{TResult}"/> made with <see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>,
/// an unbounded channel) and return.
/// </summary>
public abstract class ExecAsyncReceiver
{
    /// <summary>One encoded <c>ExecChunk</c> of a streamed block; the span is valid only during the call.</summary>
    /// <param name="encodedChunk">The encoded chunk, owned by the runtime.</param>
    /// <returns><see langword="true"/> to go on; <see langword="false"/> cancels the block, which then ends as cancelled.</returns>
    /// <remarks>An exception cancels the block; it is not rethrown anywhere.</remarks>
    public virtual bool OnChunk(ReadOnlySpan<byte> encodedChunk) => true;

    /// <summary>
    /// The encoded <c>ExecResult</c>, exactly once, after the last chunk; the span is valid only during the call.
    /// An empty span means the runtime could not encode the result (out of memory).
    /// </summary>
    /// <param name="encodedResult">The encoded result, owned by the runtime.</param>
    /// <remarks>Must not throw: an exception is swallowed (nothing could report it).</remarks>
    public abstract void OnResult(ReadOnlySpan<byte> encodedResult);
}
