using System.Collections.Concurrent;
using System.Diagnostics;

namespace Beamline.Testing;

/// <summary>
/// Node scripts that drive clients nobody here wrote (npm <c>openai</c>, <c>@anthropic-ai/sdk</c>,
/// <c>nats</c>): installs a folder's packages with <c>npm ci</c> from its committed lock file the
/// first time one is missing, and runs a script there to its end.
/// </summary>
public static class NodeScripts
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> InstallLocks = new(StringComparer.Ordinal);

    /// <summary>Runs <c>npm ci</c> in <paramref name="folder"/> unless <paramref name="package"/> is installed there already.</summary>
    public static async Task EnsureInstalledAsync(string folder, string package)
    {
        var installLock = InstallLocks.GetOrAdd(folder, static _ => new SemaphoreSlim(1, 1));
        await installLock.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(folder, "node_modules", package)))
            {
                return;
            }
            var (exit, output, error) = await RunAsync(folder, "npm", ["ci", "--no-audit", "--no-fund"]);
            if (exit != 0)
            {
                throw new InvalidOperationException(
                    $"'npm ci' in {folder} failed ({exit}); these tests need node, npm and the npm registry:\n{output}\n{error}");
            }
        }
        finally
        {
            installLock.Release();
        }
    }

    /// <summary>Runs <c>node <paramref name="script"/> args…</c> in <paramref name="folder"/>, after installing <paramref name="package"/>.</summary>
    public static async Task<(int Exit, string Output, string Error)> RunNodeAsync(string folder, string package, string script, params string[] args)
    {
        await EnsureInstalledAsync(folder, package);
        return await RunAsync(folder, "node", [script, .. args]);
    }

    /// <summary>Runs <paramref name="program"/> in <paramref name="folder"/> to its end (at most 3 minutes).</summary>
    public static async Task<(int Exit, string Output, string Error)> RunAsync(string folder, string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = folder,
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
