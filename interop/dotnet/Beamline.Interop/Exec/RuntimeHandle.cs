using System.Runtime.InteropServices;

namespace Beamline.Interop.Exec;

/// <summary>Owns a <c>bl_runtime*</c>; releases it with <c>runtime_release</c>.</summary>
internal sealed unsafe class RuntimeHandle : SafeHandle
{
    private readonly BlApi* _api;

    internal RuntimeHandle(BlApi* api, BlRuntime* runtime)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        _api = api;
        SetHandle((IntPtr)runtime);
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // SafeHandle's reference count guarantees that no execute call is running.
        _api->RuntimeRelease((BlRuntime*)handle);
        return true;
    }
}
