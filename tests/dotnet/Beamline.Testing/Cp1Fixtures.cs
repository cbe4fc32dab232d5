namespace Beamline.Testing;

/// <summary>
/// The CP1 fixtures, copied into the repository (tests/dotnet/fixtures/beamline-cp1, SOURCE.md there)
/// so that a clone needs nothing beside it.
/// </summary>
public static class Cp1Fixtures
{
    /// <summary>The fixtures folder.</summary>
    public static string Root => Path.Combine(RepoPaths.Root, "tests", "dotnet", "fixtures", "beamline-cp1");

    /// <summary>The policies folder.</summary>
    public static string Policies => Path.Combine(Root, "policies");

    /// <summary>A policy file by id.</summary>
    public static string Policy(string id) => Path.Combine(Policies, id + ".json");

    /// <summary>The bytes of a file under <c>requests/</c>.</summary>
    public static byte[] Request(string name) => File.ReadAllBytes(Path.Combine(Root, "requests", name));

    /// <summary>Every policy id.</summary>
    public static IEnumerable<string> PolicyIds()
    {
        foreach (var file in Directory.GetFiles(Policies, "*.json"))
        {
            yield return Path.GetFileNameWithoutExtension(file);
        }
    }
}
