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
}
