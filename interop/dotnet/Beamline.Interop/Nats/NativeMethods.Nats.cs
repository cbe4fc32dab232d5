using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Beamline.Interop.Internal;

namespace Beamline.Interop.Nats;

/// <summary>
/// The part of the NATS C client (libnats 3.4) these bindings use. Statuses are <c>natsStatus</c>
/// as <see cref="int"/>; strings the library owns come back as <c>byte*</c> (never <see cref="string"/>,
/// whose marshaller would free them); C <c>bool</c> is one byte.
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const string Lib = NativeLibraryResolver.NatsLibrary;

    // --- library ------------------------------------------------------------------------------

    [LibraryImport(Lib, EntryPoint = "nats_GetLastError", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* GetLastError(int* status);

    [LibraryImport(Lib, EntryPoint = "natsStatus_GetText", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* StatusGetText(int status);

    [LibraryImport(Lib, EntryPoint = "natsInbox_Create", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int InboxCreate(byte** inbox);

    [LibraryImport(Lib, EntryPoint = "natsInbox_Destroy", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void InboxDestroy(byte* inbox);

    // --- options ------------------------------------------------------------------------------

    [LibraryImport(Lib, EntryPoint = "natsOptions_Create", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsCreate(out NatsOptionsHandle options);

    [LibraryImport(Lib, EntryPoint = "natsOptions_Destroy", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void OptionsDestroy(nint options);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetURL", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetUrl(NatsOptionsHandle options, string url);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetName", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetName(NatsOptionsHandle options, string? name);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetUserInfo", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetUserInfo(NatsOptionsHandle options, string? user, string? password);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetToken", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetToken(NatsOptionsHandle options, string? token);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetTimeout", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetTimeout(NatsOptionsHandle options, long timeoutMs);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetAllowReconnect", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetAllowReconnect(NatsOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool allow);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetMaxReconnect", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetMaxReconnect(NatsOptionsHandle options, int maxReconnect);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetReconnectWait", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetReconnectWait(NatsOptionsHandle options, long reconnectWaitMs);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetReconnectBufSize", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetReconnectBufSize(NatsOptionsHandle options, int bytes);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetPingInterval", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetPingInterval(NatsOptionsHandle options, long intervalMs);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetMaxPendingMsgs", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetMaxPendingMsgs(NatsOptionsHandle options, int maxPending);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetNoEcho", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetNoEcho(NatsOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool noEcho);

    [LibraryImport(Lib, EntryPoint = "natsOptions_SetSendAsap", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetSendAsap(NatsOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool sendAsap);

    /// <summary><c>natsOptions_SetClosedCB(opts, void (*)(natsConnection*, void*), void*)</c>.</summary>
    [LibraryImport(Lib, EntryPoint = "natsOptions_SetClosedCB", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int OptionsSetClosedCallback(NatsOptionsHandle options,
        delegate* unmanaged[Cdecl]<nint, nint, void> callback, nint closure);

    // --- connection ---------------------------------------------------------------------------

    [LibraryImport(Lib, EntryPoint = "natsConnection_Connect", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionConnect(out NatsConnectionHandle connection, NatsOptionsHandle options);

    [LibraryImport(Lib, EntryPoint = "natsConnection_Close", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void ConnectionClose(NatsConnectionHandle connection);

    [LibraryImport(Lib, EntryPoint = "natsConnection_Destroy", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void ConnectionDestroy(nint connection);

    [LibraryImport(Lib, EntryPoint = "natsConnection_IsClosed", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool ConnectionIsClosed(NatsConnectionHandle connection);

    [LibraryImport(Lib, EntryPoint = "natsConnection_FlushTimeout", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionFlushTimeout(NatsConnectionHandle connection, long timeoutMs);

    [LibraryImport(Lib, EntryPoint = "natsConnection_Buffered")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionBuffered(NatsConnectionHandle connection);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_GetPending")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SubscriptionGetPending(NatsSubscriptionHandle subscription, out int messages, out int bytes);

    [LibraryImport(Lib, EntryPoint = "natsConnection_DrainTimeout", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionDrainTimeout(NatsConnectionHandle connection, long timeoutMs);

    [LibraryImport(Lib, EntryPoint = "natsConnection_Publish", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionPublish(NatsConnectionHandle connection, string subject, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsConnection_Publish", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionPublish(NatsConnectionHandle connection, byte* subject, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsConnection_PublishRequest", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionPublishRequest(NatsConnectionHandle connection, string subject, string reply, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsConnection_PublishRequest", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionPublishRequest(NatsConnectionHandle connection, string subject, byte* reply, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsConnection_PublishMsg", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionPublishMsg(NatsConnectionHandle connection, nint msg);

    /// <summary><c>natsConnection_Subscribe</c> with a <c>natsMsgHandler(natsConnection*, natsSubscription*, natsMsg*, void*)</c>.</summary>
    [LibraryImport(Lib, EntryPoint = "natsConnection_Subscribe", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionSubscribe(out NatsSubscriptionHandle subscription, NatsConnectionHandle connection,
        string subject, delegate* unmanaged[Cdecl]<nint, nint, nint, nint, void> callback, nint closure);

    [LibraryImport(Lib, EntryPoint = "natsConnection_QueueSubscribe", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ConnectionQueueSubscribe(out NatsSubscriptionHandle subscription, NatsConnectionHandle connection,
        string subject, string queueGroup, delegate* unmanaged[Cdecl]<nint, nint, nint, nint, void> callback, nint closure);

    // --- subscription -------------------------------------------------------------------------

    /// <summary><c>natsSubscription_SetOnCompleteCB</c>: called once the subscription is closed and its handler has returned.</summary>
    [LibraryImport(Lib, EntryPoint = "natsSubscription_SetOnCompleteCB", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SubscriptionSetOnCompleteCallback(NatsSubscriptionHandle subscription,
        delegate* unmanaged[Cdecl]<nint, void> callback, nint closure);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_SetPendingLimits", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SubscriptionSetPendingLimits(NatsSubscriptionHandle subscription, int msgLimit, int bytesLimit);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_Unsubscribe", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SubscriptionUnsubscribe(NatsSubscriptionHandle subscription);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_DrainTimeout", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int SubscriptionDrainTimeout(NatsSubscriptionHandle subscription, long timeoutMs);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_IsValid", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool SubscriptionIsValid(NatsSubscriptionHandle subscription);

    [LibraryImport(Lib, EntryPoint = "natsSubscription_Destroy", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void SubscriptionDestroy(nint subscription);

    // --- messages -----------------------------------------------------------------------------

    [LibraryImport(Lib, EntryPoint = "natsMsg_Create", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgCreate(nint* msg, string subject, string? reply, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsMsg_Create", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgCreate(nint* msg, byte* subject, byte* reply, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsMsg_Create", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgCreate(nint* msg, string subject, byte* reply, byte* data, int dataLen);

    [LibraryImport(Lib, EntryPoint = "natsMsg_Destroy", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void MsgDestroy(nint msg);

    [LibraryImport(Lib, EntryPoint = "natsMsg_GetSubject", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* MsgGetSubject(nint msg);

    [LibraryImport(Lib, EntryPoint = "natsMsg_GetReply", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* MsgGetReply(nint msg);

    [LibraryImport(Lib, EntryPoint = "natsMsg_GetData", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* MsgGetData(nint msg);

    [LibraryImport(Lib, EntryPoint = "natsMsg_GetDataLength", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgGetDataLength(nint msg);

    /// <summary>True for the server's "no responders" message: no payload and a <c>Status: 503</c> header.</summary>
    [LibraryImport(Lib, EntryPoint = "natsMsg_IsNoResponders", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool MsgIsNoResponders(nint msg);

    [LibraryImport(Lib, EntryPoint = "natsMsgHeader_Add", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgHeaderAdd(nint msg, string key, string value);

    /// <summary>The first value of a header; the value is owned by the message.</summary>
    [LibraryImport(Lib, EntryPoint = "natsMsgHeader_Get", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgHeaderGet(nint msg, string key, byte** value);

    /// <summary>All values of a header; the strings are owned by the message, the array by the caller (<c>free</c>).</summary>
    [LibraryImport(Lib, EntryPoint = "natsMsgHeader_Values", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgHeaderValues(nint msg, byte* key, byte*** values, int* count);

    /// <summary>All header keys; the strings are owned by the message, the array by the caller (<c>free</c>).</summary>
    [LibraryImport(Lib, EntryPoint = "natsMsgHeader_Keys", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int MsgHeaderKeys(nint msg, byte*** keys, int* count);
}
