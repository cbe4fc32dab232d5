using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Beamline.Interop.Internal;

/// <summary>
/// Resolves the native libraries this assembly binds to. Installed once, before any P/Invoke,
/// by a module initializer.
/// </summary>
/// <remarks>
/// <para><c>beamline_exec</c>: the directory named by <c>BEAMLINE_NATIVE_DIR</c>, then
/// <see cref="AppContext.BaseDirectory"/>, then the first <c>out/lib/</c> found walking up from
/// <see cref="AppContext.BaseDirectory"/> (a developer checkout, where CMake puts it).</para>
/// </remarks>
internal static class NativeLibraryResolver
{
    /// <summary>The name used in <c>[LibraryImport]</c> for the executors library.</summary>
    internal const string ExecLibrary = "beamline_exec";

    /// <summary>The environment variable naming a directory that holds the native libraries.</summary>
    internal const string NativeDirVariable = "BEAMLINE_NATIVE_DIR";

    private static int _installed;

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "The resolver must be in place before the first P/Invoke of this assembly, whoever calls it first.")]
    internal static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
        }
    }

    /// <summary>The file name of the executors library on this platform.</summary>
    internal static string ExecFileName =>
        OperatingSystem.IsWindows() ? "beamline_exec.dll"
        : OperatingSystem.IsMacOS() ? "libbeamline_exec.dylib"
        : "libbeamline_exec.so";

    /// <summary>The places searched for the executors library, in order (for error messages).</summary>
    internal static IEnumerable<string> ExecCandidates()
    {
        string fileName = ExecFileName;
        string? fromEnv = Environment.GetEnvironmentVariable(NativeDirVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            yield return Path.Combine(fromEnv, fileName);
        }

        string baseDir = AppContext.BaseDirectory;
        yield return Path.Combine(baseDir, fileName);

        for (DirectoryInfo? dir = new DirectoryInfo(baseDir); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "out", "lib", fileName);
            if (File.Exists(candidate))
            {
                yield return candidate;
                yield break;
            }
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == ExecLibrary ? ResolveExec() : IntPtr.Zero;

    private static IntPtr ResolveExec()
    {
        foreach (string candidate in ExecCandidates())
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out IntPtr handle))
            {
                return handle;
            }
        }

        // Fall back to the default probing (LD_LIBRARY_PATH, the system's library directories).
        return IntPtr.Zero;
    }
}
