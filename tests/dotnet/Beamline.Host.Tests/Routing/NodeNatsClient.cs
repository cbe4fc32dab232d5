using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// A NATS client that no one here wrote: the official <c>nats</c> npm package, driven by
/// <c>node/request.mjs</c>. Installs it with <c>npm ci</c> from the committed lock file on first use.
/// </summary>
internal static class NodeNatsClient
{
    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Host.Tests", "node");

    /// <summary>Sends <paramref name="json"/> <paramref name="count"/> times at once and returns the replies.</summary>
    public static async Task<JsonElement[]> RequestAsync(string url, string subject, string json, int count = 1)
    {
        var (exit, output, error) = await NodeScripts.RunNodeAsync(Folder, "nats", "request.mjs", url, subject, json, count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(exit == 0, $"node request.mjs failed ({exit}):\n{error}");
        return JsonSerializer.Deserialize<JsonElement[]>(output)!;
    }


}
