
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
    /// <summary>The folder of the script and its <c>package.json</c>.</summary>
    public static string Folder => Path.Combine(RepoPaths.Root, "tests", "dotnet", "Beamline.Extensions.Nats.Tests", "node");

    /// <summary>The conventional subject of <paramref name="behaviour"/> at <paramref name="stage"/> (<c>pre</c>, <c>validate</c> or <c>post</c>).</summary>
    public static string Subject(string stage, string behaviour) => $"beamline.ext.{stage}.{behaviour}.v1";

    /// <summary>Starts the services on <paramref name="natsUrl"/> and waits until every subscription is on the server.</summary>
    public static async Task<ChildProcess> StartAsync(string natsUrl, IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        await NodeScripts.EnsureInstalledAsync(Folder, "nats").ConfigureAwait(false);
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
}
