using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Gateway;

// Gateway issue: providers an operator configures are trusted destinations. The control plane has
// no executor configuration at all (no HTTP allow-list for any tenant), yet its openai_compatible
// provider on a loopback upstream answers: its blocks name it (provider_ref) and the embedded
// runtime was given its base_url's host. A tenant's own blocks gain nothing from it.
public sealed class ProviderDestinationEndToEndTests(ProviderDestinationFixture fixture) : IClassFixture<ProviderDestinationFixture>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task ChatCompletions_ProviderOnLoopbackWithoutAnAllowList_Answers()
    {
        var (status, body) = await PostAsync("v1/chat/completions",
            """{"model":"local","messages":[{"role":"user","content":"hi upstream"}]}""");

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(GatewayUpstream.Reply, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        var upstream = fixture.Upstream.Scenario(ProviderDestinationFixture.Scenario);
        Assert.Equal("Bearer " + ProviderDestinationFixture.UpstreamKey, upstream.LastAuthorization);
    }

    [Fact]
    public async Task Execute_ProviderOnLoopbackWithoutAnAllowList_Answers()
    {
        var request = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = ProviderDestinationFixture.Tenant,
            ["request_id"] = "req-trusted",
            ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hello" } },
            ["policy_id"] = "local",
        }.ToJsonString();

        var (status, body) = await PostAsync("v1/execute", request);

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        Assert.Equal(200, body.GetProperty("result").GetProperty("http_status").GetInt32());
    }

    [Fact]
    public async Task PostBlock_NamingTheProvider_Answers403()
    {
        var block = Block(new JsonObject { ["url"] = fixture.ChatUrl, ["method"] = "POST", ["body"] = "{}", ["provider_ref"] = "local_llm" });

        var (status, body) = await PostAsync("v1/blocks", block);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("denied", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("provider_ref", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostBlock_ToTheProvidersHostWithoutProviderRef_IsRefusedByTheTenantsAllowList()
    {
        var requestsBefore = fixture.Upstream.Scenario(ProviderDestinationFixture.Scenario).Requests;
        var block = Block(new JsonObject { ["url"] = fixture.ChatUrl, ["method"] = "POST", ["body"] = "{}" });

        var (status, body) = await PostAsync("v1/blocks", block);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("permission_denied", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("allow-list", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(requestsBefore, fixture.Upstream.Scenario(ProviderDestinationFixture.Scenario).Requests);
    }

    private static string Block(JsonObject payload) => new JsonObject
    {
        ["type"] = "http.request",
        ["tenant_id"] = ProviderDestinationFixture.Tenant,
        ["payload"] = payload,
    }.ToJsonString();

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(fixture.Process.BaseAddress, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ProviderDestinationFixture.Key);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}

/// <summary>
/// A <c>beamline serve</c> with no executor configuration file (so no HTTP allow-list) and one
/// <c>openai_compatible</c> provider, <c>local_llm</c>, on a <see cref="GatewayUpstream"/> scenario
/// (policy <c>local</c>).
/// </summary>
public sealed class ProviderDestinationFixture : IAsyncLifetime
{
    /// <summary>The tenant.</summary>
    public const string Tenant = "acme";

    /// <summary>The tenant's key.</summary>
    public const string Key = "bl_acme_Wq3ZkR7pLx2VnB8cD4fG6hJ9kM1nP5qS0tU2vX4yZ6a";

    /// <summary>The operator's key for the upstream.</summary>
    public const string UpstreamKey = "sk-trusted-destination-5e1f";

    /// <summary>The upstream scenario behind <c>local_llm</c>.</summary>
    public const string Scenario = "ok-trusted";

    private const string UpstreamKeyVariable = "BEAMLINE_TEST_TRUSTED_UPSTREAM_KEY";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-trusted-{Guid.NewGuid():N}.json");

    /// <summary>The control plane.</summary>
    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The loopback upstream.</summary>
    public GatewayUpstream Upstream { get; private set; } = null!;

    /// <summary>The upstream's chat completions URL (on 127.0.0.1).</summary>
    public string ChatUrl => Upstream.BaseUrl(Scenario) + "/chat/completions";

    public async Task InitializeAsync()
    {
        Upstream = await GatewayUpstream.StartAsync();
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync(new Dictionary<string, string> { [UpstreamKeyVariable] = UpstreamKey }, "--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        if (Upstream is not null)
        {
            await Upstream.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    private string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "local",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "local",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"local_llm","weight":100}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(new JsonObject
                {
                    ["id"] = "local_llm",
                    ["kind"] = "openai_compatible",
                    ["model"] = "upstream-model",
                    ["base_url"] = Upstream.BaseUrl(Scenario),
                    ["api_key_env"] = UpstreamKeyVariable,
                }),
            },
        },
    }.ToJsonString();
}
