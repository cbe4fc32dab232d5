namespace Beamline.Testing;

/// <summary>Requests shaped as the upstream C gateway sends them (tests/dotnet/fixtures/c-gateway, README there).</summary>
public static class GatewayFixtures
{
    /// <summary>The folder of the fixtures.</summary>
    public static string Root => Path.Combine(RepoPaths.Root, "tests", "dotnet", "fixtures", "c-gateway");

    /// <summary>The bytes of one fixture.</summary>
    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(Root, name));
}
