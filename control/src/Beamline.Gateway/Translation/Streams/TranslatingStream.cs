namespace Beamline.Gateway.Translation.Streams;

/// <summary>
/// A stream translator: server-sent events read across chunks (<see cref="SseReader"/>), their
/// meaning read by the upstream format's reader, written by the client format's emitter. What one
/// push returns is valid until the next push.
/// </summary>
internal sealed class TranslatingStream : IStreamTranslator
{
    private readonly SseReader _sse = new();
    private readonly StreamEmitter _emitter;
    private readonly SseReader.EventHandler _handle;

    public TranslatingStream(StreamEmitter emitter, UpstreamReader reader)
    {
        _emitter = emitter;
        _handle = reader.Handle;
    }

    public ReadOnlyMemory<byte> Push(ReadOnlyMemory<byte> chunk)
    {
        _emitter.ResetOutput();
        _sse.Push(chunk.Span, _handle);
        return _emitter.Output;
    }

    public ReadOnlyMemory<byte> Finish()
    {
        _emitter.ResetOutput();
        _sse.Finish(_handle);
        _emitter.Finish();
        return _emitter.Output;
    }
}
