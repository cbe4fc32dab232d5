using System.Diagnostics;

namespace Beamline.Testing;

/// <summary>
/// CP1 extensions as NATS services written in node on the official <c>nats</c> npm package:
/// <c>tests/dotnet/Beamline.Extensions.Nats.Tests/node/extensions.mjs</c>, installed with
/// <c>npm ci</c> from its committed lock file on first use. Each spec is
/// <c>&lt;subject&gt;=&lt;behaviour&gt;</c> (the script's header lists the behaviours); a subject
/// under <c>beamline.ext.validate.*</c> answers as a validator.
/// </summary>
public static class NodeExtensionServices
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    /// <summary>The folder of the script and its <c>package.json</c>.</summary>
    public static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Extensions.Nats.Tests", "node");

    /// <summary>The conventional subject of <paramref name="behaviour"/> at <paramref name="stage"/> (<c>pre</c>, <c>validate</c> or <c>post</c>).</summary>
    public static string Subject(string stage, string behaviour) => $"beamline.ext.{stage}.{behaviour}.v1";

    /// <summary>Starts the services on <paramref name="natsUrl"/> and waits until every subscription is on the server.</summary>
    public static async Task<ChildProcess> StartAsync(string natsUrl, IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        await EnsureInstalledAsync().ConfigureAwait(false);
        var node = ChildProcess.Start("node", ["extensions.mjs", natsUrl, .. specs], workingDirectory: Folder);
        try
        {
            await node.WaitForLineAsync("ready", TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return node;
    }

    private static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Directory.Exists(Path.Combine(Folder, "node_modules", "nats")))
            {
                return;
            }
            var info = new ProcessStartInfo("npm")
            {
                WorkingDirectory = Folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "ci", "--no-audit", "--no-fund" })
            {
                info.ArgumentList.Add(arg);
            }
            using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start npm");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"'npm ci' in {Folder} failed ({process.ExitCode}); these tests need node, npm and the npm registry:\n{await output.ConfigureAwait(false)}\n{await error.ConfigureAwait(false)}");
            }
        }
        finally
        {
            InstallLock.Release();
        }
    }
}
