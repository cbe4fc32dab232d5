using System.Runtime.InteropServices;

namespace Beamline.Interop.Exec;

// Blittable mirrors of the structs in interop/include/beamline/beamline_exec.h. Field order and
// types follow the header exactly; LayoutTests holds sizes and offsets against a C probe.
#pragma warning disable CA1815 // Interop structs: equality is never used.

/// <summary>Opaque <c>bl_status</c>.</summary>
internal struct BlStatus;

/// <summary>Opaque <c>bl_runtime</c>.</summary>
internal struct BlRuntime;

/// <summary>Opaque <c>bl_exec_context</c>.</summary>
internal struct BlExecContext;

/// <summary><c>bl_buffer</c>: library-allocated bytes that the caller frees with <c>buffer_release</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlBuffer
{
    public byte* Data;
    public ulong Len;
}

/// <summary><c>bl_runtime_options</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlRuntimeOptions
{
    /// <summary><c>BL_RUNTIME_NO_BUILTINS</c>.</summary>
    public const uint NoBuiltins = 0x1;

    public uint StructSize;
    public uint Flags;
    public byte* WorkerId;
    public ulong WorkerIdLen;
    public byte* ConfigJson;
    public ulong ConfigJsonLen;
}

/// <summary><c>bl_exec_info</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlExecInfo
{
    public uint StructSize;
    public int GpuDevice;
    public byte* TenantId;
    public ulong TenantIdLen;
    public byte* BlockId;
    public ulong BlockIdLen;
    public byte* Type;
    public ulong TypeLen;
    public long DeadlineMonoNs;
    public uint Stream;
    public uint Reserved;
}

/// <summary><c>bl_executor_def</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlExecutorDef
{
    public uint StructSize;
    public uint Flags;
    public byte* Type;
    public ulong TypeLen;
    public void* User;
    public delegate* unmanaged[Cdecl]<void*, BlExecContext*, byte*, ulong, BlStatus*> Execute;
    public delegate* unmanaged[Cdecl]<void*, void> Release;
}

/// <summary>
/// <c>bl_api</c>, the function table of <see cref="Version"/>. Append-only: a newer library's
/// table is longer, never different in the part described here.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlApi
{
    /// <summary><c>BL_API_VERSION</c> of the header these bindings mirror.</summary>
    public const uint Version = 3;

    public uint StructSize;
    public uint ApiVersion;

    public delegate* unmanaged[Cdecl]<int, byte*, ulong, BlStatus*> StatusCreate;
    public delegate* unmanaged[Cdecl]<BlStatus*, int> StatusCode;
    public delegate* unmanaged[Cdecl]<BlStatus*, ulong*, byte*> StatusMessage;
    public delegate* unmanaged[Cdecl]<BlStatus*, void> StatusRelease;

    public delegate* unmanaged[Cdecl]<BlBuffer*, void> BufferRelease;

    public delegate* unmanaged[Cdecl]<BlRuntimeOptions*, BlRuntime**, BlStatus*> RuntimeCreate;
    public delegate* unmanaged[Cdecl]<BlRuntime*, void> RuntimeRelease;
    public delegate* unmanaged[Cdecl]<BlRuntime*, BlExecutorDef*, BlStatus*> RuntimeRegisterExecutor;
    public delegate* unmanaged[Cdecl]<BlRuntime*, byte*, ulong, BlStatus*> RuntimeLoadPlugin;
    public delegate* unmanaged[Cdecl]<BlRuntime*, BlBuffer*, BlStatus*> RuntimeListExecutors;

    public delegate* unmanaged[Cdecl]<BlRuntime*, byte*, ulong, BlBuffer*, BlStatus*> Execute;
    public delegate* unmanaged[Cdecl]<BlRuntime*, byte*, ulong, delegate* unmanaged[Cdecl]<void*, byte*, ulong, int>, void*, BlBuffer*, BlStatus*> ExecuteStream;

    public delegate* unmanaged[Cdecl]<BlExecContext*, BlExecInfo*> ContextInfo;
    public delegate* unmanaged[Cdecl]<BlExecContext*, byte*, ulong, BlStatus*> ContextWrite;
    public delegate* unmanaged[Cdecl]<BlExecContext*, byte*, ulong, BlStatus*> ContextEmitChunk;
    public delegate* unmanaged[Cdecl]<BlExecContext*, int> ContextCancelled;

    // Appended later in version 1; always present from version 2 on.
    public delegate* unmanaged[Cdecl]<BlRuntime*, byte*, ulong, BlExecOverrides*, delegate* unmanaged[Cdecl]<void*, byte*, ulong, int>, void*, BlBuffer*, BlStatus*> ExecuteEx;

    // Version 3, which these bindings require.
    public delegate* unmanaged[Cdecl]<BlRuntime*, byte*, ulong, BlExecOverrides*, BlAsyncCallbacks*, void*, BlStatus*> ExecuteAsync;
}

/// <summary><c>bl_async_callbacks</c> (version 3): how <c>execute_async</c> hands a block's chunks and result back.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlAsyncCallbacks
{
    public uint StructSize;
    public uint Reserved;
    public delegate* unmanaged[Cdecl]<void*, byte*, ulong, int> OnChunk;
    public delegate* unmanaged[Cdecl]<void*, byte*, ulong, void> OnResult;
}

/// <summary><c>bl_exec_overrides</c>: what the host decides about one block (<c>execute_ex</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BlExecOverrides
{
    public uint StructSize;
    public int GpuDevice;

    /// <summary>Version 2: NULL, or a flag the host sets to non-zero (atomically, from any thread) to cancel the block.</summary>
    public int* CancelFlag;
}
