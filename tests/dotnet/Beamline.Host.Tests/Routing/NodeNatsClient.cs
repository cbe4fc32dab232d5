using System.Diagnostics;
using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// A NATS client that no one here wrote: the official <c>nats</c> npm package, driven by
/// <c>node/request.mjs</c>. Installs it with <c>npm ci</c> from the committed lock file on first use.
/// </summary>
internal static class NodeNatsClient
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Host.Tests", "node");

    /// <summary>Sends <paramref name="json"/> <paramref name="count"/> times at once and returns the replies.</summary>
    public static async Task<JsonElement[]> RequestAsync(string url, string subject, string json, int count = 1)
    {
        await EnsureInstalledAsync();
        var (exit, output, error) = await RunAsync("node", ["request.mjs", url, subject, json, count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(exit == 0, $"node request.mjs failed ({exit}):\n{error}");
        return JsonSerializer.Deserialize<JsonElement[]>(output)!;
    }

    private static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(Folder, "node_modules", "nats")))
            {
                return;
            }
            var (exit, output, error) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"]);
            Assert.True(exit == 0, $"'npm ci' in {Folder} failed ({exit}); the NATS interop tests need node, npm and the npm registry:\n{output}\n{error}");
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
