using Beamline.Testing;

namespace Beamline.Interop.Tests.Infrastructure;

/// <summary>Paths of the C ABI in the checkout.</summary>
internal static class Repo
{
    public static string Root => RepoPaths.Root;

    public static string IncludeDir => Path.Combine(Root, "interop", "include");

    public static string ExecHeader => Path.Combine(IncludeDir, "beamline", "beamline_exec.h");
}
