using Beamline.Interop.Internal;

namespace Beamline.Interop.Exec;

/// <summary>Loads the function table of <c>libbeamline_exec</c> once and checks that it is the one these bindings expect.</summary>
internal static unsafe class ExecApi
{
    private static readonly Lock Gate = new();
    private static nint _table;

    /// <summary>The validated function table; loads the library on first use.</summary>
    /// <exception cref="DllNotFoundException">The library could not be found or loaded.</exception>
    /// <exception cref="BeamlineNativeException">The library is older than these bindings (<see cref="BlErrc.VersionMismatch"/>).</exception>
    internal static BlApi* Table
    {
        get
        {
            nint table = Volatile.Read(ref _table);
            return table != 0 ? (BlApi*)table : Load();
        }
    }

    private static BlApi* Load()
    {
        lock (Gate)
        {
            if (_table != 0)
            {
                return (BlApi*)_table;
            }

            BlApi* api;
            try
            {
                api = NativeMethods.BlGetApi(BlApi.Version);
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                throw new DllNotFoundException(
                    $"Could not load the Beamline executors library ({NativeLibraryResolver.ExecFileName}) or its entry point bl_get_api. " +
                    $"Searched: {string.Join(", ", NativeLibraryResolver.ExecCandidates())}, then the system's library path. " +
                    $"Build it with `cmake --preset release && cmake --build build/native`, or set {NativeLibraryResolver.NativeDirVariable}. {ex.Message}",
                    ex);
            }

            if (api is null)
            {
                throw new BeamlineNativeException(BlErrc.VersionMismatch,
                    $"libbeamline_exec does not implement C ABI version {BlApi.Version} (bl_get_api returned NULL): " +
                    "the library is older than these bindings; rebuild it from this checkout.");
            }

            if (api->ApiVersion < BlApi.Version || api->StructSize < (uint)sizeof(BlApi))
            {
                throw new BeamlineNativeException(BlErrc.VersionMismatch,
                    $"libbeamline_exec returned a function table of version {api->ApiVersion} and {api->StructSize} bytes; " +
                    $"these bindings need version {BlApi.Version} and at least {sizeof(BlApi)} bytes. Rebuild the library from this checkout.");
            }

            Volatile.Write(ref _table, (nint)api);
            return api;
        }
    }
}
