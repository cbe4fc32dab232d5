using System.Runtime.InteropServices;

namespace Beamline.Interop.Nats;

/// <summary>Owns a <c>natsOptions*</c>.</summary>
internal sealed class NatsOptionsHandle : SafeHandle
{
    public NatsOptionsHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.OptionsDestroy(handle);
        return true;
    }
}

/// <summary>Owns a <c>natsConnection*</c>. Closing is explicit (<see cref="NatsConnection"/>); release destroys.</summary>
internal sealed class NatsConnectionHandle : SafeHandle
{
    public NatsConnectionHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.ConnectionDestroy(handle);
        return true;
    }
}

/// <summary>Owns a <c>natsSubscription*</c>; release destroys it (and unsubscribes when still open).</summary>
internal sealed class NatsSubscriptionHandle : SafeHandle
{
    public NatsSubscriptionHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.SubscriptionDestroy(handle);
        return true;
    }
}
