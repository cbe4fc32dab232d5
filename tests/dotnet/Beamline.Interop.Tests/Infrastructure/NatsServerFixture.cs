using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beamline.Interop.Tests.Infrastructure;

/// <summary>A real nats-server on a free loopback port, shared by the tests of <see cref="NatsCollection"/>.</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public int Port { get; private set; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        string binary = Locate();
        Port = FreePort();
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {binary}.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        DateTime until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < until && !_process.HasExited)
            {
                await Task.Delay(20);
            }
            catch (SocketException)
            {
                await DisposeAsync();
                throw new InvalidOperationException($"nats-server did not accept connections on port {Port}:\n{Output}");
            }
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            finally
            {
                process.Dispose();
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A loopback port that nothing listens on (the OS picked it a moment ago).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static string Locate()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        IEnumerable<string> dirs = (path ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/usr/bin").Append("/usr/local/bin");
        foreach (string dir in dirs)
        {
            string candidate = Path.Combine(dir, "nats-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            "nats-server is not installed (looked in PATH, /usr/sbin, /usr/bin, /usr/local/bin): run './build.sh deps' (Debian package nats-server).");
    }
}

/// <summary>Tests that share one nats-server; they run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class NatsCollection : ICollectionFixture<NatsServerFixture>
{
    public const string Name = "nats-server";
}
