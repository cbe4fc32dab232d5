using System.Text.Json;
using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary><c>beamline exec</c> as a user runs it.</summary>
public sealed class ExecCommandTests
{
    private static Task<(int ExitCode, string Output)> RunAsync(params string[] args) => RunAsync(null, args);

    private static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        await using var process = ChildProcess.Start(RepoPaths.Program("beamline"), ["exec", .. args], environment);
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, process.Output);
    }

    private static JsonElement ResultLine(string output)
    {
        var line = output.Split('\n').Single(l => l.StartsWith("{\"ok\"", StringComparison.Ordinal));
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    [Fact]
    public async Task Exec_EchoInProcess_PrintsTheResultAndExitsZero()
    {
        var (code, output) = await RunAsync("--type", "echo", "--payload", "hello");
        Assert.True(code == 0, output);
        var result = ResultLine(output).GetProperty("result");
        Assert.Equal("aGVsbG8=", result.GetProperty("output").GetString());
        Assert.Equal("in-process", result.GetProperty("worker_id").GetString());
    }

    [Fact]
    public async Task Exec_FsWriteInProcess_LandsInThePerUserSandboxAsForServe()
    {
        var home = Directory.CreateTempSubdirectory("beamline-xdg-").FullName;
        try
        {
            var (code, output) = await RunAsync(new Dictionary<string, string> { ["XDG_DATA_HOME"] = home },
                "--type", "fs.write", "--pool", "io", "--tenant", "tenant-x", "--payload", """{"path":"note.txt","data":"hi"}""");

            Assert.True(code == 0, output);
            var written = Directory.EnumerateFiles(Path.Combine(home, "beamline", "sandbox"), "note.txt", SearchOption.AllDirectories).ToList();
            Assert.Single(written);
            Assert.Equal("hi", await File.ReadAllTextAsync(written[0]));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public async Task Exec_UnknownType_PrintsCp1ErrorAndExitsOne()
    {
        var (code, output) = await RunAsync("--type", "nope");
        Assert.Equal(1, code);
        Assert.Equal("unknown_executor", ResultLine(output).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Exec_OverNats_RunsOnTheWorker()
    {
        await using var nats = await NatsServer.StartAsync();
        await using var worker = await WorkerProcess.StartAsync(nats.Url, WorkerProcess.NewId("cli"));
        var (code, output) = await RunAsync("--type", "echo", "--payload-base64", "AAEC/w==", "--nats", nats.Url);
        Assert.True(code == 0, output);
        var result = ResultLine(output).GetProperty("result");
        Assert.Equal("AAEC/w==", result.GetProperty("output").GetString());
        Assert.Equal(worker.WorkerId, result.GetProperty("worker_id").GetString());
    }

    [Fact]
    public async Task Exec_BadBase64_ExitsTwoWithAMessage()
    {
        var (code, output) = await RunAsync("--type", "echo", "--payload-base64", "!!");
        Assert.Equal(2, code);
        Assert.Contains("not valid base64", output, StringComparison.Ordinal);
    }
}
