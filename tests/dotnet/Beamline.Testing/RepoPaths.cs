namespace Beamline.Testing;

/// <summary>Where the built programs are: the repository root is the folder holding Beamline.sln.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The repository root.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>out/bin: beamline, beamline-worker, beamline-nats-bench.</summary>
    public static string Bin => Path.Combine(Root, "out", "bin");

    /// <summary>out/lib: libbeamline_exec.so and plugins.</summary>
    public static string Lib => Path.Combine(Root, "out", "lib");

    /// <summary>The example configuration that <c>./build.sh run</c> serves (demo tenant, policy and key).</summary>
    public static string ExampleConfig => Path.Combine(Root, "control", "src", "Beamline.Cli", "examples", "beamline.example.json");

    /// <summary>A program in out/bin, or a clear failure telling how to build it.</summary>
    public static string Program(string name)
    {
        var path = Path.Combine(Bin, name);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist: run './build.sh build' first.", path);
        }
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Beamline.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"No Beamline.sln above {AppContext.BaseDirectory}.");
    }
}
