namespace Beamline.Testing;

/// <summary>The shared CP1 fixtures (<c>../shared/fixtures/beamline-cp1/</c> beside the repository).</summary>
public static class Cp1Fixtures
{
    /// <summary>The fixtures folder.</summary>
    public static string Root => Path.GetFullPath(Path.Combine(RepoPaths.Root, "..", "shared", "fixtures", "beamline-cp1"));

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
