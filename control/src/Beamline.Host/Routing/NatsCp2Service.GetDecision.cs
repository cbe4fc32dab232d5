using System.Buffers;
using Beamline.Cp1;
using Google.Protobuf;
using NATS.Client.Core;

namespace Beamline.Host.Routing;

// get_decision over CP2's NATS face: a stored decision of the tenant in Beamline-Tenant (another
// tenant's is not_found), answered on the subscription's loop, since it is only a lookup.
internal sealed partial class NatsCp2Service
{
    private async Task ServeGetDecisionAsync(INatsSub<NatsMemoryOwner<byte>> subscription)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        await foreach (var msg in subscription.Msgs.ReadAllAsync().ConfigureAwait(false))
        {
            using var body = msg.Data;
            if (msg.ReplyTo is not { } replyTo)
            {
                continue;
            }
            buffer.ResetWrittenCount();
            string kind;
            try
            {
                kind = GetDecision(body.Memory.Span, msg.Headers, buffer);
            }
            catch (Exception e)
            {
                LogFailed(GetDecisionSubject, e);
                buffer.ResetWrittenCount();
                kind = WriteError(buffer, new Cp1Error(Cp1ErrorCodes.Internal, "internal error"), null);
            }
            await ReplyAsync(replyTo, buffer.WrittenMemory, kind).ConfigureAwait(false);
        }
    }

    private string GetDecision(ReadOnlySpan<byte> body, NatsHeaders? headers, ArrayBufferWriter<byte> buffer)
    {
        if (!Admit(body.Length, headers, _maxDecideBytes, out var tenant, out _, out var refused))
        {
            return WriteError(buffer, refused!, null);
        }
        Cp2.GetDecisionRequest request;
        try
        {
            request = Cp2.GetDecisionRequest.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException)
        {
            return WriteError(buffer, new Cp1Error(Cp1ErrorCodes.InvalidRequest, "the body is not a beamline.router.v2.GetDecisionRequest", null,
                Cp1ErrorTypes.InvalidJson), null);
        }
        return Write(buffer, processor.GetDecision(request, tenant!));
    }
}
