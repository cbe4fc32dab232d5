using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Beamline.Host.Tests.Routing;

/// <summary>With tenants configured, /v1/blocks runs only for the tenant of a valid API key.</summary>
public sealed class BlockTenancyTests(DecideHostsFixture hosts) : IClassFixture<DecideHostsFixture>, IDisposable
{
    private const string DemoKey = "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    private Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string tenant, string? key)
        => PostBlockAsync($$$"""{"type":"echo","tenant_id":"{{{tenant}}}","payload":{"hello":"world"}}""", key);

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostBlockAsync(string block, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(hosts.Demo.BaseAddress, "v1/blocks"))
        {
            Content = new StringContent(block, Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    [Fact]
    public async Task PostBlock_WithoutKey_Answers401()
    {
        var (status, body) = await PostAsync("tenant_abc123", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task PostBlock_KeyOfItsTenant_Runs()
    {
        var (status, body) = await PostAsync("tenant_abc123", DemoKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("eyJoZWxsbyI6IndvcmxkIn0=", body.GetProperty("result").GetProperty("output").GetString());
    }

    [Fact]
    public async Task PostBlock_KeyOfAnotherTenant_Answers403()
    {
        var (status, body) = await PostAsync("some_other_tenant", DemoKey);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("denied", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("tenant_id", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    // Hardening item 9: provider calls name credentials the executing side holds. A tenant's own
    // http.request block naming one would spend the operator's keys outside routing and its quotas.
    [Theory]
    [InlineData("""{"url":"http://127.0.0.1:9/","credential_ref":"openai"}""")]
    [InlineData("""{"url":"http://127.0.0.1:9/","credential\u005fref":"openai"}""")]
    public async Task PostBlock_HttpRequestNamingACredential_Answers403(string payload)
    {
        var (status, body) = await PostBlockAsync($$$"""{"type":"http.request","tenant_id":"tenant_abc123","payload":{{{payload}}}}""", DemoKey);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("denied", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("credential_ref", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    // Gateway issue: providers an operator configures are trusted destinations. A tenant's own
    // block naming one would reach the provider's hosts (a local model server on loopback, say)
    // that its allow-list does not give it.
    [Theory]
    [InlineData("""{"url":"http://127.0.0.1:11434/v1/models","provider_ref":"local_llm"}""")]
    [InlineData("""{"url":"http://127.0.0.1:11434/v1/models","provider\u005fref":"local_llm"}""")]
    public async Task PostBlock_HttpRequestNamingAProvider_Answers403(string payload)
    {
        var (status, body) = await PostBlockAsync($$$"""{"type":"http.request","tenant_id":"tenant_abc123","payload":{{{payload}}}}""", DemoKey);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("denied", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("provider_ref", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
