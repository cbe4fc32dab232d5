using System.Globalization;

namespace Beamline.Testing;

/// <summary>A real <c>beamline serve</c> process on a free loopback port, as an operator starts it.</summary>
public sealed class ControlPlaneProcess : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private readonly bool _ownsDataDirectory;

    private ControlPlaneProcess(ChildProcess process, int port, int grpcPort, string dataDirectory, bool ownsDataDirectory)
    {
        _ownsDataDirectory = ownsDataDirectory;
        GrpcAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{grpcPort}/"));
        Process = process;
        _dataDirectory = dataDirectory;
        BaseAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
    }

    /// <summary>The process (for its output and signals).</summary>
    public ChildProcess Process { get; }

    /// <summary>Its data directory (<c>--data-dir</c>).</summary>
    public string DataDirectory => _dataDirectory;

    /// <summary>Where it listens.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Where its gRPC (h2c) endpoint listens.</summary>
    public Uri GrpcAddress { get; }

    /// <summary>
    /// Starts <c>beamline serve --urls ... --data-dir ... args</c> and waits until it accepts
    /// connections. Each process gets its own fresh tenancy data directory, deleted on dispose.
    /// </summary>
    public static Task<ControlPlaneProcess> StartAsync(params string[] args) => StartAsync(null, args);

    /// <summary>As <see cref="StartAsync(string[])"/>, with these environment variables set for the process.</summary>
    public static Task<ControlPlaneProcess> StartAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
        => StartCoreAsync(environment, null, args);

    /// <summary>
    /// As <see cref="StartAsync(string[])"/> on the data directory <paramref name="dataDirectory"/>,
    /// which the caller owns (it is kept on dispose): a second process on it sees the first's state.
    /// </summary>
    public static Task<ControlPlaneProcess> StartOnDataDirectoryAsync(string dataDirectory, params string[] args)
        => StartCoreAsync(null, dataDirectory, args);

    private static async Task<ControlPlaneProcess> StartCoreAsync(IReadOnlyDictionary<string, string>? environment, string? givenDataDirectory, string[] args)
    {
        var dataDirectory = givenDataDirectory ?? Directory.CreateTempSubdirectory("beamline-data-").FullName;
        // A port picked free can be taken by a parallel test before the process binds it: such a
        // start is tried again on new ports (a few times), any other failure is the test's.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            // gRPC on its own free port, so that control planes of parallel tests never collide.
            var grpcPort = FreePort.Next();
            var process = ChildProcess.Start(RepoPaths.Program("beamline"),
                ["serve", "--urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"),
                 "--grpc-urls", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{grpcPort}"), "--data-dir", dataDirectory, .. args], environment);
            try
            {
                await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(30), () => process.IsRunning).ConfigureAwait(false);
                // Both endpoints: Kestrel binds them one after the other, and a gRPC port taken meanwhile
                // ends the process just after the HTTP one answered (the tests then saw resets and refusals).
                await FreePort.WaitUntilListeningAsync(grpcPort, TimeSpan.FromSeconds(30), () => process.IsRunning).ConfigureAwait(false);
                if (!process.IsRunning)
                {
                    throw new InvalidOperationException("the process exited after it started listening");
                }
                return new ControlPlaneProcess(process, port, grpcPort, dataDirectory, givenDataDirectory is null);
            }
            catch (Exception e)
            {
                var output = process.Output;
                await process.DisposeAsync().ConfigureAwait(false);
                if (attempt < 3 && output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                if (givenDataDirectory is null)
                {
                    Directory.Delete(dataDirectory, recursive: true);
                }
                throw new InvalidOperationException($"beamline serve did not listen on {port}: {e.Message}\n{output}", e);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync().ConfigureAwait(false);
        if (!_ownsDataDirectory)
        {
            return;
        }
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind harms nothing.
        }
    }
}
