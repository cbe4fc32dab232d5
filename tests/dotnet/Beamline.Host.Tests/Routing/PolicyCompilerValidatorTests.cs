using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Beamline.Tenancy;
using Beamline.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Tests.Routing;

/// <summary>A policy the admin API accepts is one the router can compile: the same loader decides both.</summary>
public sealed class PolicyCompilerValidatorTests(ExecuteHostFixture host) : IClassFixture<ExecuteHostFixture>, IDisposable
{
    private const string Uncompilable = """{"providers":[{"name":"openai","weight":"heavy"}]}""";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public void AddBeamlineDecide_RegistersAValidatorThatRunsThePolicyCompiler()
    {
        var configuration = new ConfigurationBuilder().Build();
        var services = new ServiceCollection().AddLogging();
        services.AddBeamlineTenancy(configuration);
        services.AddBeamlineDecide(configuration);
        using var provider = services.BuildServiceProvider();
        var validator = provider.GetRequiredService<IPolicyValidator>();

        using var bad = JsonDocument.Parse(Uncompilable);
        using var good = JsonDocument.Parse(File.ReadAllBytes(Cp1Fixtures.Policy("default")));

        var problem = validator.Validate("t", "p", bad.RootElement);
        Assert.NotNull(problem);
        Assert.Contains("$.providers[0].weight", problem, StringComparison.Ordinal);
        Assert.Null(validator.Validate("t", "default", good.RootElement));
    }

    [Fact]
    public async Task PutPolicy_TheCompilerRefuses_Returns400WithItsErrorsAndStoresNothing()
    {
        using var put = new HttpRequestMessage(HttpMethod.Put, new Uri(host.Process.BaseAddress, $"admin/v1/tenants/{ExecuteHostFixture.Tenant}/policies/uncompilable"))
        {
            Content = new StringContent(Uncompilable, Encoding.UTF8, "application/json"),
        };
        put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.AdminKey);
        using var response = await _http.SendAsync(put);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("$.providers[0].weight", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri(host.Process.BaseAddress, $"admin/v1/tenants/{ExecuteHostFixture.Tenant}/policies/uncompilable"));
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.AdminKey);
        using var stored = await _http.SendAsync(get);
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
    }

    [Fact]
    public async Task PutPolicy_LanguageSourceAsTextPlain_IsValidatedWithLineAndColumn_AndStoredInItsWrapper()
    {
        using (var bad = await PutTextAsync("lang_bad", "policy lang_bad():\n  route nowhere\n"))
        {
            var body = await bad.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(bad.StatusCode == HttpStatusCode.BadRequest, body.ToString());
            Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("2:9: unknown name 'nowhere'", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var good = await PutTextAsync("lang_ok", "policy lang_ok():\n  if request.message_type == \"chat\": route \"openai\"\n  route \"anthropic\"\n"))
        {
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        }
        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri(host.Process.BaseAddress, $"admin/v1/tenants/{ExecuteHostFixture.Tenant}/policies/lang_ok"));
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.AdminKey);
        using var stored = await _http.SendAsync(get);
        var policy = (await stored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("policy");
        Assert.StartsWith("policy lang_ok():", policy.GetProperty("language").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decide_WithALanguagePolicy_RoutesByItsConditions_AndAReplacementTakesEffectLive()
    {
        using (var put = await PutTextAsync("lang_live", "policy lang_live():\n  if request.message_type == \"chat\": route \"echo_cpu\"\n  route \"sleepy\"\n"))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        Assert.Equal("echo_cpu", await DecideAsync("lang_live", "chat"));
        Assert.Equal("sleepy", await DecideAsync("lang_live", "embedding"));

        using (var put = await PutTextAsync("lang_live", "policy lang_live():\n  route \"echo_cpu\"\n"))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        Assert.Equal("echo_cpu", await DecideAsync("lang_live", "embedding"));
    }

    private async Task<string?> DecideAsync(string policy, string type)
    {
        using var decide = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Process.BaseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(new System.Text.Json.Nodes.JsonObject
            {
                ["version"] = "1",
                ["tenant_id"] = ExecuteHostFixture.Tenant,
                ["request_id"] = Guid.NewGuid().ToString("N"),
                ["policy_id"] = policy,
                ["task"] = new System.Text.Json.Nodes.JsonObject { ["type"] = type, ["payload"] = new System.Text.Json.Nodes.JsonObject { ["text"] = "hi" } },
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        decide.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.Key);
        using var response = await _http.SendAsync(decide);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("decision").GetProperty("provider_id").GetString();
    }

    private async Task<HttpResponseMessage> PutTextAsync(string id, string source)
    {
        using var put = new HttpRequestMessage(HttpMethod.Put, new Uri(host.Process.BaseAddress, $"admin/v1/tenants/{ExecuteHostFixture.Tenant}/policies/{id}"))
        {
            Content = new StringContent(source, Encoding.UTF8, "text/plain"),
        };
        put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.AdminKey);
        return await _http.SendAsync(put);
    }
}
