using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Runtime.CompilerServices;
using Beamline.Pipeline;
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
        if (ProviderBlocks.Build(call.Provider, call.Request, stream: false, out var reason, out var upstream) is not { } block)
        {
            return ProviderAnswer.Unsupported(reason!);
        }
        Bound(block, call.Timeout);
        var result = await dispatcher.DispatchAsync(block, cancellationToken).ConfigureAwait(false);
        return ProviderBlocks.Interpret(call.Provider, result) with { Format = upstream };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ProviderStreamItem> StreamAsync(ProviderCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (ProviderBlocks.Build(call.Provider, call.Request, stream: true, out var reason, out var upstream) is not { } block)
        {
            yield return new ProviderStreamItem(default, ProviderAnswer.Unsupported(reason!));
            yield break;
        }
        Bound(block, call.Timeout);
        block.Stream = true;
        // An HTTP provider's stream starts with the response head (stream_head): an error status
        // turns the body into the failure's output instead of chunks passed on to the client.
        var head = ProviderBlocks.IsHttp(call.Provider) ? new StreamHead() : null;
        await foreach (var item in dispatcher.DispatchStreamAsync(block, cancellationToken).ConfigureAwait(false))
        {
            if (item.Chunk is { } chunk)
            {
                var data = chunk.Data.Memory;
                if (head is not null && !head.Take(ref data))
                {
                    continue;
                }
                if (!data.IsEmpty)
                {
                    yield return new ProviderStreamItem(data, null) { Format = upstream };
                }
            }
            else
            {
                var answer = ProviderBlocks.Interpret(call.Provider, item.Result!) with { Format = upstream };
                yield return new ProviderStreamItem(default, head?.Finish(answer) ?? answer);
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

/// <summary>
/// The head of a streamed <c>http.request</c> (<c>stream_head</c>): its first line,
/// <c>{"status","headers"}</c>, comes before any body byte. With a 2xx status the body passes on
/// as chunks; with another the body is collected (bounded) and becomes the failed answer's output.
/// </summary>
internal sealed class StreamHead
{
    private const int MaxHeadBytes = 256 << 10;
    private const int MaxErrorBodyBytes = 64 << 10;

    private List<byte>? _pending = [];
    private int _status;
    private ArrayBufferWriter<byte>? _errorBody;

    /// <summary>
    /// Takes one chunk: false while the head is still being read or the body is an error's (the
    /// chunk is kept, not passed on); true with <paramref name="data"/> trimmed to the body bytes
    /// that may pass on.
    /// </summary>
    public bool Take(ref ReadOnlyMemory<byte> data)
    {
        if (_pending is not null)
        {
            var newline = data.Span.IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (_pending.Count + data.Length > MaxHeadBytes)
                {
                    _pending = null;
                    _status = 0; // not a head: pass everything on
                    return true;
                }
                _pending.AddRange(data.Span);
                return false;
            }
            _pending.AddRange(data.Span[..newline]);
            _status = ReadStatus(CollectionsMarshal.AsSpan(_pending));
            _pending = null;
            data = data[(newline + 1)..];
            if (_status is < 200 or > 299)
            {
                _errorBody = new ArrayBufferWriter<byte>();
            }
        }
        if (_errorBody is not null)
        {
            var room = Math.Max(0, MaxErrorBodyBytes - _errorBody.WrittenCount);
            _errorBody.Write(data.Span[..Math.Min(room, data.Length)]);
            return false;
        }
        return true;
    }

    /// <summary>The final answer: an error status's collected body is its output.</summary>
    public ProviderAnswer Finish(ProviderAnswer answer)
        => _errorBody is not null && !answer.Succeeded ? answer with { Output = _errorBody.WrittenMemory.ToArray() } : answer;

    private static int ReadStatus(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.TryGetProperty("status", out var status) && status.TryGetInt32(out var value) ? value : 0;
        }
        catch (JsonException)
        {
            return 0;
        }
    }
}
