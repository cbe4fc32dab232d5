using System.Buffers;
using Google.Protobuf;
using NATS.Client.Core;

namespace Beamline.Dispatch.Nats;

/// <summary>
/// Protobuf bodies for NATS.Net without intermediate copies: a message is written straight into
/// the connection's buffer and parsed straight from the received sequence.
/// </summary>
internal sealed class ProtobufNatsSerializer<T> : INatsSerialize<T>, INatsDeserialize<T>
    where T : class, IMessage<T>, new()
{
    public static readonly ProtobufNatsSerializer<T> Default = new();

    private static readonly MessageParser<T> Parser = new(() => new T());

    public void Serialize(IBufferWriter<byte> bufferWriter, T value) => value.WriteTo(bufferWriter);

    public T? Deserialize(in ReadOnlySequence<byte> buffer) => Parser.ParseFrom(buffer);
}
