using System.Globalization;

namespace Beamline.Testing;

/// <summary>A real nats-server (the Debian package) on a free loopback port; it can be killed and restarted on that port.</summary>
public sealed class NatsServer : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private ChildProcess? _process;

    private NatsServer(int port, string[] extraArgs)
    {
        Port = port;
        _extraArgs = extraArgs;
    }

    /// <summary>The client port.</summary>
    public int Port { get; }

    /// <summary>The client URL.</summary>
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Whether the server process runs now.</summary>
    public bool IsRunning => _process is { IsRunning: true };

    /// <summary>
    /// Starts a server and waits until it accepts connections. <paramref name="extraArgs"/> go to
    /// nats-server as they are (e.g. <c>-c FILE</c> for a configuration with TLS and users).
    /// </summary>
    public static async Task<NatsServer> StartAsync(params string[] extraArgs)
    {
        var server = new NatsServer(FreePort.Next(), extraArgs);
        await server.RestartAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// As the other overload; with <paramref name="jetStream"/>, JetStream is on (<c>-js</c>), its
    /// store in a fresh temporary directory that survives <see cref="KillAsync"/> and
    /// <see cref="RestartAsync"/> (streams and KV buckets come back) and is deleted on dispose.
    /// </summary>
    public static async Task<NatsServer> StartAsync(bool jetStream, params string[] extraArgs)
    {
        if (!jetStream)
        {
            return await StartAsync(extraArgs).ConfigureAwait(false);
        }
        var storeDir = Directory.CreateTempSubdirectory("beamline-js-").FullName;
        var server = new NatsServer(FreePort.Next(), ["-js", "-sd", storeDir, .. extraArgs]) { StoreDir = storeDir };
        await server.RestartAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>The JetStream store directory; null without JetStream.</summary>
    public string? StoreDir { get; private init; }

    /// <summary>
    /// Freezes the server (SIGSTOP): clients keep their connections but nothing is answered, and
    /// what they write stays unread; <see cref="KillAsync"/> after it loses that.
    /// </summary>
    public void Freeze() => (_process ?? throw new InvalidOperationException("nats-server is not running")).Pause();

    /// <summary>Kills the server (SIGKILL): clients see the connection drop.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _process, null) is { } process)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts the server again on the same port (after <see cref="KillAsync"/>).</summary>
    public async Task RestartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("nats-server is already running");
        }
        var process = ChildProcess.Start(Locate(), ["-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), .. _extraArgs]);
        try
        {
            await FreePort.WaitUntilListeningAsync(Port, TimeSpan.FromSeconds(10), () => process.IsRunning).ConfigureAwait(false);
        }
        catch
        {
            var output = process.Output;
            await process.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"nats-server did not start on port {Port}:\n{output}");
        }
        _process = process;
    }

    private static string Locate()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var candidate = Path.Combine(dir, "nats-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("nats-server is not installed: run './build.sh deps' (Debian package nats-server).");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        if (StoreDir is not null && Directory.Exists(StoreDir))
        {
            Directory.Delete(StoreDir, recursive: true);
        }
    }
}
