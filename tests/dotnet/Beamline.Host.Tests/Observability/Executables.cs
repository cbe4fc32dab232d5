namespace Beamline.Host.Tests.Observability;

/// <summary>Finds programs on <c>PATH</c>.</summary>
internal static class Executables
{
    /// <summary>The full path of <paramref name="name"/> on <c>PATH</c>, or null.</summary>
    public static string? Find(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(directory, OperatingSystem.IsWindows() ? name + ".exe" : name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        return null;
    }
}

/// <summary>
/// A fact that needs a program from the Debian package <c>prometheus</c> (<c>./build.sh deps</c>
/// installs it): skipped, saying so, only where that program is truly absent.
/// </summary>
public sealed class RequiresPrometheusFactAttribute : FactAttribute
{
    public RequiresPrometheusFactAttribute(string program)
    {
        if (Executables.Find(program) is null)
        {
            Skip = $"{program} is not on PATH: install the Debian package 'prometheus' (./build.sh deps does)";
        }
    }
}
