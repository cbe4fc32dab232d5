using System.Diagnostics;
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
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

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
        await EnsureInstalledAsync();
        var (exit, output, error) = await RunAsync("node", ["openai.mjs", baseUrl.ToString(), new JsonArray(calls).ToJsonString()]);
        Assert.True(exit == 0, $"node openai.mjs failed ({exit}):\n{error}");
        return JsonSerializer.Deserialize<JsonElement[]>(output)!;
    }

    private static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(Folder, "node_modules", "openai")))
            {
                return;
            }
            var (exit, output, error) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"]);
            Assert.True(exit == 0, $"'npm ci' in {Folder} failed ({exit}); the OpenAI npm SDK tests need node, npm and the npm registry:\n{output}\n{error}");
        }
        finally
        {
            InstallLock.Release();
        }
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string program, string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }
}
