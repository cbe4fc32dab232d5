using Beamline.Worker.V2;

namespace Beamline.Dispatch;

/// <summary>
/// Runs one block and answers exactly once: with the executor's result, or with a result whose
/// status and <see cref="ExecResult.ErrorCode"/> say why it did not run (see <see cref="ExecErrorCodes"/>).
/// Transport failures never escape as exceptions.
/// </summary>
public interface IBlockDispatcher
{
    /// <summary>Where blocks run: <see cref="DispatchModes.InProcess"/> or <see cref="DispatchModes.Nats"/>.</summary>
    string Mode { get; }

    /// <summary>Runs <paramref name="request"/> and returns its result.</summary>
    ValueTask<ExecResult> DispatchAsync(ExecRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="request"/> as a streamed block (<see cref="ExecRequest.Stream"/> is set):
    /// the executor's chunks as they come, then its result — always last, exactly once, also when
    /// the block fails or the transport does. Stopping the enumeration early cancels the block.
    /// </summary>
    IAsyncEnumerable<ExecStreamItem> DispatchStreamAsync(ExecRequest request, CancellationToken cancellationToken);
}

/// <summary>One item of a streamed block: a chunk of its output, or its final result.</summary>
/// <param name="Chunk">A chunk, or null for the final item.</param>
/// <param name="Result">The result (the final item), or null for a chunk.</param>
public readonly record struct ExecStreamItem(ExecChunk? Chunk, ExecResult? Result)
{
    /// <summary>Whether this is the final item, the result.</summary>
    public bool IsResult => Result is not null;
}

/// <summary>The names of the dispatch paths.</summary>
public static class DispatchModes
{
    /// <summary>Executors loaded into this process through the C ABI (the embedded default).</summary>
    public const string InProcess = "in-process";

    /// <summary>Workers reached over NATS on <c>caf.exec.v2.&lt;pool&gt;</c>.</summary>
    public const string Nats = "nats";
}
