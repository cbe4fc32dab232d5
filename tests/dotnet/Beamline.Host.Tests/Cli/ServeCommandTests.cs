using Beamline.Testing;

namespace Beamline.Host.Tests.Cli;

/// <summary><c>beamline serve</c> as an operator starts it: what it prints about its configuration.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private const string DemoSecret = "HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";

    private readonly string _directory = Directory.CreateTempSubdirectory("beamline-serve-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_MalformedKeyInTheConfigFile_PrintsOneLineNamingFilePathAndRuleAndExitsTwo()
    {
        var config = Path.Combine(_directory, "beamline.json");
        await File.WriteAllTextAsync(config, """
            {"Beamline":{"Tenancy":{"tenants":[{"id":"t","keys":[{"key":"bl_short"}]}]}}}
            """);

        var (code, stdout, stderr) = await RunAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0",
            "--data-dir", Path.Combine(_directory, "data"));

        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(config, line, StringComparison.Ordinal);
        Assert.Contains("Beamline.Tenancy.tenants[0].keys[0].key", line, StringComparison.Ordinal);
        Assert.Contains("must look like bl_<key-id>_", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ConfigFileIsNotJson_PrintsOneLineNamingTheFileAndExitsTwo()
    {
        var config = Path.Combine(_directory, "broken.json");
        await File.WriteAllTextAsync(config, """{"Beamline": {"Tenancy": """);

        var (code, stdout, stderr) = await RunAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0",
            "--data-dir", Path.Combine(_directory, "data"));

        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(config, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ExampleConfig_LogsTheDemoKeyIdButNeverItsSecret()
    {
        await using var host = await ControlPlaneProcess.StartAsync("--config", RepoPaths.ExampleConfig);

        var line = await host.Process.WaitForLineAsync("from the configuration file", TimeSpan.FromSeconds(30));

        Assert.Contains("bl_demo_", line, StringComparison.Ordinal);
        Assert.DoesNotContain(DemoSecret, host.Process.Output, StringComparison.Ordinal);
    }

    private static Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args) => ProgramRun.RunAsync("beamline", args);
}
