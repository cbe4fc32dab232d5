using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// The official <c>openai</c> npm package, driven by <c>node/openai.mjs</c>: runs a list of calls and
/// returns what the SDK made of each. Installs the package with <c>npm ci</c> from the committed
/// lock file when it is missing.
/// </summary>
internal static class OpenAINodeClient
{
    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Host.Tests", "node");

    /// <summary>One call: <c>kind</c> is <c>chat</c>, <c>stream</c> or <c>models</c>.</summary>
    public static JsonObject Call(string kind, string key, string? model = null, string? content = null) => new()
    {
        ["kind"] = kind,
        ["key"] = key,
        ["model"] = model,
        ["content"] = content,
    };

    /// <summary>Runs <paramref name="calls"/> in order against <paramref name="baseUrl"/>; one result per call.</summary>
    public static async Task<JsonElement[]> RunAsync(Uri baseUrl, params JsonObject[] calls)
    {
        var (exit, output, error) = await NodeScripts.RunNodeAsync(Folder, "openai", "openai.mjs", baseUrl.ToString(), new JsonArray(calls).ToJsonString());
        Assert.True(exit == 0, $"node openai.mjs failed ({exit}):\n{error}");
        return JsonSerializer.Deserialize<JsonElement[]>(output)!;
    }


}
