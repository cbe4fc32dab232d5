namespace Beamline.Interop.Exec;

/// <summary>
/// Receives one encoded <c>beamline.worker.v2.ExecChunk</c> of a streamed block, on the thread that
/// called <see cref="ExecRuntime.ExecuteStream(ReadOnlySpan{byte}, ExecChunkHandler, CancellationToken)"/>. The span is valid only during the call.
/// </summary>
/// <param name="encodedChunk">The encoded chunk, owned by the runtime.</param>
/// <returns><see langword="true"/> to go on; <see langword="false"/> cancels the block, which then ends as cancelled.</returns>
public delegate bool ExecChunkHandler(ReadOnlySpan<byte> encodedChunk);
