namespace Beamline.Testing;

/// <summary>
/// The diagnostic executors (<c>debug.sleep</c>) exist only when the executor configuration
/// enables them; tests use them to stand in for slow work.
/// </summary>
public static class DiagnosticExecutors
{
    private static readonly Lazy<string> LazyConfigFile = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"beamline-diagnostics-{Environment.ProcessId}.json");
        File.WriteAllText(path, """{"debug":{"enabled":true}}""");
        return path;
    });

    /// <summary>An executor configuration file that enables them and nothing else.</summary>
    public static string ConfigFile => LazyConfigFile.Value;
}
