using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Beamline.Host.Tests.Nats;
using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary>
/// Where <c>beamline serve</c> keeps state: per user (never the working directory), created
/// 0700, sandboxes under the data directory, and refused when others could write there.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class StateDirectoryTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly string _directory = Directory.CreateTempSubdirectory("beamline-state-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Serve_WithoutDataDir_KeepsStateInXdgDataHomeAndNothingInTheWorkingDirectory(bool exampleConfig)
    {
        var xdg = Path.Combine(_directory, "xdg");
        var workingDirectory = Directory.CreateDirectory(Path.Combine(_directory, "checkout")).FullName;
        var port = FreePort.Next();
        string[] args = ["serve", "--urls", $"http://127.0.0.1:{port}", "--grpc-urls", $"http://127.0.0.1:{FreePort.Next()}"];
        await using var process = ChildProcess.Start(RepoPaths.Program("beamline"),
            exampleConfig ? [.. args, "--config", RepoPaths.ExampleConfig] : args,
            new Dictionary<string, string> { ["XDG_DATA_HOME"] = xdg }, workingDirectory);

        var line = await process.WaitForLineAsync("State lives in", TimeSpan.FromSeconds(60));

        var data = Path.Combine(xdg, "beamline");
        Assert.Contains(data, line, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(data, "sandbox"), line, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(data, "tenancy.db")), process.Output);
        Assert.Equal(Private, File.GetUnixFileMode(data));
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(data, "sandbox")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(workingDirectory));
    }

    [Fact]
    public async Task Serve_DataDirWritableByOthers_RefusesWithOneLineAndExitsTwo()
    {
        var data = Directory.CreateDirectory(Path.Combine(_directory, "shared")).FullName;
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        var (code, stdout, stderr) = await RunAsync("serve", "--urls", "http://127.0.0.1:0", "--data-dir", data);

        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(data, line, StringComparison.Ordinal);
        Assert.Contains("writable by other users", line, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "tenancy.db")));
    }

    [Fact]
    public async Task Serve_FsRootOfAnotherUser_RefusesWithOneLineAndExitsTwo()
    {
        // As root: a directory given to nobody; as anyone else: "/" is root's.
        string root;
        if (Environment.UserName == "root")
        {
            root = Directory.CreateDirectory(Path.Combine(_directory, "theirs")).FullName;
            using var chown = Process.Start("chown", ["65534", root]);
            await chown.WaitForExitAsync();
            Assert.Equal(0, chown.ExitCode);
        }
        else
        {
            root = "/";
        }
        var executors = Path.Combine(_directory, "executors.json");
        await File.WriteAllTextAsync(executors, $$$"""{"fs":{"root":"{{{root}}}"}}""");
        var config = Path.Combine(_directory, "beamline.json");
        await File.WriteAllTextAsync(config, $$$"""{"Beamline":{"InProcess":{"ExecutorConfigFile":"{{{executors}}}"} } }""");

        var (code, stdout, stderr) = await RunAsync("serve", "--urls", "http://127.0.0.1:0", "--config", config,
            "--data-dir", Path.Combine(_directory, "data"));

        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("fs.root", line, StringComparison.Ordinal);
        Assert.Contains("belongs to another user", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_InProcessFsWrite_LandsInTheDataDirectorysSandbox()
    {
        var config = await NatsTestConfig.WriteAsync();
        try
        {
            await using var host = await ControlPlaneProcess.StartAsync("--config", config);
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.BaseAddress, "v1/blocks"))
            {
                Content = new StringContent($$$"""
                    {"type":"fs.write","tenant_id":"{{{NatsTestConfig.Tenant}}}","payload":{"path":"note-{{{Guid.NewGuid():N}}}.txt","data":"hello"}}
                    """, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NatsTestConfig.Key);

            using var response = await http.SendAsync(request);

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            var files = Path.Combine(host.DataDirectory, "sandbox", NatsTestConfig.Tenant, "files");
            var written = Assert.Single(Directory.GetFiles(files));
            Assert.Equal("hello", await File.ReadAllTextAsync(written));
            Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(host.DataDirectory, "sandbox")));
        }
        finally
        {
            File.Delete(config);
        }
    }

    private static Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args) => ProgramRun.RunAsync("beamline", args);
}
