using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Dispatch.InProcess;

namespace Beamline.Dispatch.Tests.InProcess;

/// <summary>The credentials and provider destinations the control plane gives the embedded runtime, merged into the executor configuration file's.</summary>
public sealed class ExecutorConfigJsonTests
{
    private static readonly ExecutorCredential OpenAI = new()
    {
        Name = "openai", Prefix = "Bearer ", ValueEnvironmentVariable = "OPENAI_API_KEY", Hosts = ["api.openai.com"],
    };

    [Fact]
    public void WithCredentials_NoFile_MakesTheHttpSection()
    {
        var config = JsonNode.Parse(ExecutorConfigJson.WithCredentials(null, [OpenAI])!)!;

        var entry = config["http"]!["credentials"]!["openai"]!;
        Assert.Equal("Authorization", entry["header"]!.GetValue<string>());
        Assert.Equal("Bearer ", entry["prefix"]!.GetValue<string>());
        Assert.Equal("OPENAI_API_KEY", entry["value_env"]!.GetValue<string>());
        Assert.Equal("api.openai.com", Assert.Single(entry["hosts"]!.AsArray())!.GetValue<string>());
    }

    [Fact]
    public void WithCredentials_FileEntriesWinAndTheRestIsKept()
    {
        const string File = """{"http":{"default_allow":["*"],"credentials":{"openai":{"header":"Authorization","value_file":"/run/secrets/openai"}}},"cpu":{}}""";
        var claude = new ExecutorCredential { Name = "claude", Header = "x-api-key", ValueEnvironmentVariable = "ANTHROPIC_API_KEY" };

        var config = JsonNode.Parse(ExecutorConfigJson.WithCredentials(File, [OpenAI, claude])!)!;

        Assert.Equal("/run/secrets/openai", config["http"]!["credentials"]!["openai"]!["value_file"]!.GetValue<string>());
        Assert.Null(config["http"]!["credentials"]!["openai"]!["value_env"]);
        Assert.Equal("ANTHROPIC_API_KEY", config["http"]!["credentials"]!["claude"]!["value_env"]!.GetValue<string>());
        Assert.Null(config["http"]!["credentials"]!["claude"]!["hosts"]);
        Assert.Equal("*", config["http"]!["default_allow"]![0]!.GetValue<string>());
        Assert.NotNull(config["cpu"]);
    }

    [Fact]
    public void WithCredentials_NoCredentials_LeavesTheFileAsItIs()
    {
        Assert.Null(ExecutorConfigJson.WithCredentials(null, []));
        Assert.Equal("""{"http" : {}}""", ExecutorConfigJson.WithCredentials("""{"http" : {}}""", []));
    }

    [Fact]
    public void WithCredentials_HttpNotAnObject_Throws()
        => Assert.Throws<JsonException>(() => ExecutorConfigJson.WithCredentials("""{"http":[]}""", [OpenAI]));

    [Fact]
    public void WithProviders_NoFile_MakesTheHttpSection()
    {
        var config = JsonNode.Parse(ExecutorConfigJson.WithProviders(null, [new ExecutorProvider { Id = "local", Hosts = ["127.0.0.1:11434"] }])!)!;

        Assert.Equal("127.0.0.1:11434", Assert.Single(config["http"]!["providers"]!["local"]!["hosts"]!.AsArray())!.GetValue<string>());
    }

    [Fact]
    public void WithProviders_FileEntriesWinAndTheRestIsKept()
    {
        const string File = """{"http":{"default_allow":["*"],"providers":{"vllm":{"hosts":["vllm.internal:8000"],"allow_private":true}}}}""";

        var config = JsonNode.Parse(ExecutorConfigJson.WithProviders(File,
            [new ExecutorProvider { Id = "vllm", Hosts = ["vllm.internal:8000"] }, new ExecutorProvider { Id = "openai", Hosts = ["api.openai.com"] }])!)!;

        Assert.True(config["http"]!["providers"]!["vllm"]!["allow_private"]!.GetValue<bool>());
        Assert.Equal("api.openai.com", config["http"]!["providers"]!["openai"]!["hosts"]![0]!.GetValue<string>());
        Assert.Equal("*", config["http"]!["default_allow"]![0]!.GetValue<string>());
    }

    [Fact]
    public void WithProviders_NoProviders_LeavesTheFileAsItIs()
    {
        Assert.Null(ExecutorConfigJson.WithProviders(null, []));
        Assert.Equal("""{"http" : {}}""", ExecutorConfigJson.WithProviders("""{"http" : {}}""", []));
    }

    [Fact]
    public void WithProviders_ProvidersNotAnObject_Throws()
        => Assert.Throws<JsonException>(() => ExecutorConfigJson.WithProviders("""{"http":{"providers":[]}}""", [new ExecutorProvider { Id = "p" }]));
}
