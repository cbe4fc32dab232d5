namespace Beamline.Interop.Tests.Infrastructure;

/// <summary>Paths in the checkout: the root is the folder holding Beamline.sln, above the test's base directory.</summary>
internal static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    public static string IncludeDir => Path.Combine(Root, "interop", "include");

    public static string ExecHeader => Path.Combine(IncludeDir, "beamline", "beamline_exec.h");

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Beamline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Beamline.sln above {AppContext.BaseDirectory}: run the tests from a checkout.");
    }
}
