using System.Runtime.CompilerServices;
using Beamline.Dispatch;
using Beamline.Pipeline.Providers;
using Beamline.Routing.Catalog;

namespace Beamline.Providers;

/// <summary>
/// Calls the providers that run as blocks (<see cref="ProviderBlocks"/>): <c>block</c> providers
/// with the request's payload, and the HTTP providers (<c>openai</c>, <c>openai_compatible</c>,
/// <c>anthropic</c>) as <c>http.request</c> blocks — in-process or on a worker over NATS,
/// whichever <see cref="IBlockDispatcher"/> is configured. A streamed call sets the block's
/// <c>stream</c> flag and passes its chunks on as they come.
/// </summary>
internal sealed class BlockProviderClient(IBlockDispatcher dispatcher) : IProviderClient
{
    /// <inheritdoc />
    public bool Serves(ProviderKind kind) => kind is ProviderKind.Block or ProviderKind.OpenAI or ProviderKind.OpenAICompatible or ProviderKind.Anthropic;

    /// <inheritdoc />
    public string? Refuse(ProviderCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return ProviderBlocks.RefuseModel(call.Provider, call.Request);
    }

    /// <inheritdoc />
    public async ValueTask<ProviderAnswer> CallAsync(ProviderCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (ProviderBlocks.Build(call.Provider, call.Request, out var reason) is not { } block)
        {
            return ProviderAnswer.Unsupported(reason!);
        }
        Bound(block, call.Timeout);
        var result = await dispatcher.DispatchAsync(block, cancellationToken).ConfigureAwait(false);
        return ProviderBlocks.Interpret(call.Provider, result);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (ProviderBlocks.Build(call.Provider, call.Request, out var reason) is not { } block)
        {
            yield return new ProviderStreamItem(default, ProviderAnswer.Unsupported(reason!));
            yield break;
        }
        Bound(block, call.Timeout);
        block.Stream = true;
        await foreach (var item in dispatcher.DispatchStreamAsync(block, cancellationToken).ConfigureAwait(false))
        {
            if (item.Chunk is { } chunk)
            {
                yield return new ProviderStreamItem(chunk.Data.Memory, null);
            }
            else
            {
                yield return new ProviderStreamItem(default, ProviderBlocks.Interpret(call.Provider, item.Result!));
            }
        }
    }

    // The block's own deadline never outlives the request's: what is left of it bounds the attempt.
    private static void Bound(Worker.V2.ExecRequest block, TimeSpan left)
    {
        var leftMs = (uint)Math.Clamp(Math.Ceiling(left.TotalMilliseconds), 1, uint.MaxValue);
        if (block.DeadlineMs == 0 || block.DeadlineMs > leftMs)
        {
            block.DeadlineMs = leftMs;
        }
    }
}
