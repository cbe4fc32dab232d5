namespace Beamline.Testing;

/// <summary>A real nats-server (the Debian package) on a free loopback port.</summary>
public sealed class NatsServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private NatsServer(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    /// <summary>The client port.</summary>
    public int Port { get; }

    /// <summary>The client URL.</summary>
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Starts a server and waits until it accepts connections.</summary>
    public static async Task<NatsServer> StartAsync()
    {
        var binary = Locate();
        var port = FreePort.Next();
        var process = ChildProcess.Start(binary, ["-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(10), () => process.IsRunning).ConfigureAwait(false);
        }
        catch
        {
            var output = process.Output;
            await process.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"nats-server did not start on port {port}:\n{output}");
        }
        return new NatsServer(process, port);
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
    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
