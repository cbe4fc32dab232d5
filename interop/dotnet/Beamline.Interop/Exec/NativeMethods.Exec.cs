using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Beamline.Interop.Internal;

namespace Beamline.Interop.Exec;

/// <summary>
/// The one exported entry point of <c>libbeamline_exec</c>; everything else is reached through
/// the function table it returns (<see cref="BlApi"/>).
/// </summary>
internal static unsafe partial class NativeMethods
{
    /// <summary><c>const bl_api* bl_get_api(uint32_t version)</c>: a static table, never freed; NULL when the library lacks that version.</summary>
    [LibraryImport(NativeLibraryResolver.ExecLibrary, EntryPoint = "bl_get_api", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial BlApi* BlGetApi(uint version);
}
