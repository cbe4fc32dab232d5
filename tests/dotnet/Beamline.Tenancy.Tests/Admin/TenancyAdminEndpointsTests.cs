using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Beamline.Tenancy.Tests.Configuration;
using Beamline.Tenancy.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Tenancy.Tests.Admin;

/// <summary>The admin API over real HTTP: Kestrel on a loopback port, a real HttpClient, SQLite in a temp file.</summary>
public sealed class TenancyAdminEndpointsTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";

    private readonly TempDirectory _temp = new();
    private WebApplication? _app;
    private HttpClient _client = new();

    public async Task InitializeAsync() => (_app, _client) = await StartAsync(_temp.DatabasePath);

    public async Task DisposeAsync()
    {
        _client.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
        _temp.Dispose();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-key-0123456789")]
    [InlineData("Basic dGVzdA==")]
    [InlineData("Bearer " + AdminKey + "x")]
    public async Task AnyEndpoint_WithoutTheAdminKey_ReturnsUnauthorizedInTheCp1Shape(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "admin/v1/tenants");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        using var anonymous = new HttpClient { BaseAddress = _client.BaseAddress };

        using var response = await anonymous.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var body = await ReadJsonAsync(response);
        Assert.False(body.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("unauthorized", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task CreateKey_ThenAuthenticate_WorksWithoutRestartAndRevokeStopsItAtOnce()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a", name = "A", default_policy = "default", limits = new { requests_per_minute = 100 } }, HttpStatusCode.Created);
        await PostAsync("admin/v1/tenants/tenant_a/teams", new { id = "team_1", limits = new { requests_per_minute = 10 } }, HttpStatusCode.Created);
        using var created = await PostAsync("admin/v1/tenants/tenant_a/keys", new { team_id = "team_1", name = "ci" }, HttpStatusCode.Created);
        var key = created.RootElement.GetProperty("key").GetString()!;
        var keyId = created.RootElement.GetProperty("api_key").GetProperty("key_id").GetString()!;

        using (var whoami = await WhoAmIAsync(key))
        {
            Assert.Equal("tenant_a", whoami.RootElement.GetProperty("tenant_id").GetString());
            Assert.Equal("team_1", whoami.RootElement.GetProperty("team_id").GetString());
            Assert.Equal(10, whoami.RootElement.GetProperty("requests_per_minute").GetInt32());
        }

        await PostAsync($"admin/v1/tenants/tenant_a/keys/{keyId}/revoke", new { }, HttpStatusCode.OK);

        using var request = new HttpRequestMessage(HttpMethod.Get, "whoami");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var refused = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task ListKeys_NeverShowsTheSecretOrTheHash()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a" }, HttpStatusCode.Created);
        using var created = await PostAsync("admin/v1/tenants/tenant_a/keys", new { name = "k" }, HttpStatusCode.Created);
        var key = created.RootElement.GetProperty("key").GetString()!;
        var secret = key[(key.IndexOf('_', 3) + 1)..];

        var list = await _client.GetStringAsync("admin/v1/tenants/tenant_a/keys");
        var one = await _client.GetStringAsync($"admin/v1/tenants/tenant_a/keys/{created.RootElement.GetProperty("api_key").GetProperty("key_id").GetString()}");

        Assert.DoesNotContain(secret, list, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", list, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, one, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"active\"", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_NewInstanceOverTheSameDatabase_KeepsWhatTheAdminApiCreated()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a" }, HttpStatusCode.Created);
        await PutAsync("admin/v1/tenants/tenant_a/policies/default", """{"providers":[{"name":"openai","weight":1}]}""", HttpStatusCode.OK);
        await PutAsync("admin/v1/providers/openai", """{"id":"openai","kind":"openai","model":"gpt-4o-mini"}""", HttpStatusCode.OK);
        using var created = await PostAsync("admin/v1/tenants/tenant_a/keys", new { }, HttpStatusCode.Created);
        var key = created.RootElement.GetProperty("key").GetString()!;

        _client.Dispose();
        await _app!.DisposeAsync();
        (_app, _client) = await StartAsync(_temp.DatabasePath);

        using var whoami = await WhoAmIAsync(key);
        Assert.Equal("tenant_a", whoami.RootElement.GetProperty("tenant_id").GetString());
        using var policy = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants/tenant_a/policies/default"));
        Assert.Equal("openai", policy.RootElement.GetProperty("policy").GetProperty("providers")[0].GetProperty("name").GetString());
        using var providers = await ReadJsonAsync(await _client.GetAsync("admin/v1/providers"));
        Assert.Equal("gpt-4o-mini", providers.RootElement.GetProperty("providers")[0].GetProperty("model").GetString());
    }

    [Fact]
    public async Task Tenants_CreateGetUpdateDelete_RoundTrip()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a", name = "A", limits = new { monthly_budget_usd = 12.5, allowed_providers = new[] { "openai" } } }, HttpStatusCode.Created);

        using (var updated = await SendJsonAsync(HttpMethod.Patch, "admin/v1/tenants/tenant_a", """{"default_policy":"cheap"}""", HttpStatusCode.OK))
        {
            var tenant = updated.RootElement.GetProperty("tenant");
            Assert.Equal("A", tenant.GetProperty("name").GetString());
            Assert.Equal("cheap", tenant.GetProperty("default_policy").GetString());
            Assert.Equal(12.5m, tenant.GetProperty("limits").GetProperty("monthly_budget_usd").GetDecimal());
        }
        using (var list = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants")))
        {
            Assert.Equal("tenant_a", list.RootElement.GetProperty("tenants")[0].GetProperty("id").GetString());
        }
        using (var deleted = await SendJsonAsync(HttpMethod.Delete, "admin/v1/tenants/tenant_a", null, HttpStatusCode.OK))
        {
        }
        await ExpectErrorAsync(await _client.GetAsync("admin/v1/tenants/tenant_a"), HttpStatusCode.NotFound, "tenant_not_found");
    }

    [Fact]
    public async Task Teams_UpdateLimits_ChangesEffectiveLimitsOfItsKeys()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a", limits = new { tokens_per_minute = 1000 } }, HttpStatusCode.Created);
        await PostAsync("admin/v1/tenants/tenant_a/teams", new { id = "t" }, HttpStatusCode.Created);
        using var created = await PostAsync("admin/v1/tenants/tenant_a/keys", new { team_id = "t" }, HttpStatusCode.Created);

        using var team = await SendJsonAsync(HttpMethod.Patch, "admin/v1/tenants/tenant_a/teams/t", """{"limits":{"tokens_per_minute":50}}""", HttpStatusCode.OK);

        Assert.Equal(50, team.RootElement.GetProperty("team").GetProperty("effective_limits").GetProperty("tokens_per_minute").GetInt32());
        var keyId = created.RootElement.GetProperty("api_key").GetProperty("key_id").GetString();
        using var key = await ReadJsonAsync(await _client.GetAsync($"admin/v1/tenants/tenant_a/keys/{keyId}"));
        Assert.Equal(50, key.RootElement.GetProperty("api_key").GetProperty("effective_limits").GetProperty("tokens_per_minute").GetInt32());
    }

    [Fact]
    public async Task Tenants_DailyBudget_RoundTripsThroughTheAdminApi()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a", limits = new { daily_budget_usd = 2.5 } }, HttpStatusCode.Created);
        await PostAsync("admin/v1/tenants/tenant_a/teams", new { id = "t", limits = new { daily_budget_usd = 4 } }, HttpStatusCode.Created);

        using var tenant = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants/tenant_a"));
        Assert.Equal(2.5m, tenant.RootElement.GetProperty("tenant").GetProperty("limits").GetProperty("daily_budget_usd").GetDecimal());
        using var team = await SendJsonAsync(HttpMethod.Patch, "admin/v1/tenants/tenant_a/teams/t", """{"limits":{"daily_budget_usd":1.25}}""", HttpStatusCode.OK);
        Assert.Equal(1.25m, team.RootElement.GetProperty("team").GetProperty("limits").GetProperty("daily_budget_usd").GetDecimal());
        Assert.Equal(1.25m, team.RootElement.GetProperty("team").GetProperty("effective_limits").GetProperty("daily_budget_usd").GetDecimal());
    }

    [Theory]
    [InlineData("admin/v1/tenants", """{"name":"no id"}""", "id")]
    [InlineData("admin/v1/tenants", """{"id":"has space"}""", "id")]
    [InlineData("admin/v1/tenants", """{"id":"t","limits":{"requests_per_minute":"many"}}""", "limits.requests_per_minute")]
    [InlineData("admin/v1/tenants", """{"id":"t","colour":"blue"}""", "colour")]
    [InlineData("admin/v1/tenants", """{"id":"t","limits":{"daily_budget_usd":-1}}""", "limits.daily_budget_usd")]
    [InlineData("admin/v1/tenants", """[1,2]""", "body")]
    [InlineData("admin/v1/tenants", """{"id":""", "body")]
    public async Task Create_BadInput_ReturnsInvalidRequestNamingTheField(string path, string json, string field)
    {
        using var response = await _client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

        using var body = await ExpectErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal(field, body.RootElement.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    // "." and ".." are URL dot segments: /admin/v1/tenants/.. resolves to /admin/v1/tenants, so a
    // tenant or team with such an id could never be read, deleted or given keys.
    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public async Task Create_DotSegmentId_ReturnsInvalidRequest(string id)
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a" }, HttpStatusCode.Created);

        using (var tenant = await ExpectErrorAsync(await _client.PostAsJsonAsync("admin/v1/tenants", new { id }), HttpStatusCode.BadRequest, "invalid_request"))
        {
            Assert.Equal("id", tenant.RootElement.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        }
        using (var team = await ExpectErrorAsync(await _client.PostAsJsonAsync("admin/v1/tenants/tenant_a/teams", new { id }), HttpStatusCode.BadRequest, "invalid_request"))
        {
            Assert.Equal("id", team.RootElement.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        }
        using var list = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants"));
        Assert.Equal(1, list.RootElement.GetProperty("tenants").GetArrayLength());
    }

    [Fact]
    public async Task Policies_PutGetDelete_AndNonObjectIsRefused()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a" }, HttpStatusCode.Created);
        var fixture = await File.ReadAllTextAsync(TenancyDefinitionsReaderTests.FixturePolicy("extensions_full.json"));

        await PutAsync("admin/v1/tenants/tenant_a/policies/full", fixture, HttpStatusCode.OK);
        using (var got = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants/tenant_a/policies/full")))
        {
            using var expected = JsonDocument.Parse(fixture);
            Assert.True(JsonElement.DeepEquals(expected.RootElement, got.RootElement.GetProperty("policy")));
        }
        await ExpectErrorAsync(await _client.PutAsync("admin/v1/tenants/tenant_a/policies/bad", new StringContent("\"text\"")), HttpStatusCode.BadRequest, "invalid_request");
        await ExpectErrorAsync(await _client.PutAsync("admin/v1/tenants/nobody/policies/p", new StringContent("{}")), HttpStatusCode.NotFound, "tenant_not_found");
        using (await SendJsonAsync(HttpMethod.Delete, "admin/v1/tenants/tenant_a/policies/full", null, HttpStatusCode.OK))
        {
        }
        await ExpectErrorAsync(await _client.GetAsync("admin/v1/tenants/tenant_a/policies/full"), HttpStatusCode.NotFound, "policy_not_found");
    }

    [Fact]
    public async Task Providers_PutWithMismatchedId_IsRefused()
    {
        await ExpectErrorAsync(await _client.PutAsync("admin/v1/providers/openai", new StringContent("""{"id":"anthropic"}""")), HttpStatusCode.BadRequest, "invalid_request");
        await ExpectErrorAsync(await _client.GetAsync("admin/v1/providers/openai"), HttpStatusCode.NotFound, "provider_not_found");
    }

    [Fact]
    public async Task Keys_OfAnotherTenant_AreNotFound()
    {
        await PostAsync("admin/v1/tenants", new { id = "tenant_a" }, HttpStatusCode.Created);
        await PostAsync("admin/v1/tenants", new { id = "tenant_b" }, HttpStatusCode.Created);
        using var created = await PostAsync("admin/v1/tenants/tenant_b/keys", new { }, HttpStatusCode.Created);
        var keyId = created.RootElement.GetProperty("api_key").GetProperty("key_id").GetString();

        await ExpectErrorAsync(await _client.GetAsync($"admin/v1/tenants/tenant_a/keys/{keyId}"), HttpStatusCode.NotFound, "key_not_found");
        await ExpectErrorAsync(await _client.PostAsync($"admin/v1/tenants/tenant_a/keys/{keyId}/revoke", null), HttpStatusCode.NotFound, "key_not_found");
        using var list = await ReadJsonAsync(await _client.GetAsync("admin/v1/tenants/tenant_a/keys"));
        Assert.Equal(0, list.RootElement.GetProperty("keys").GetArrayLength());
    }

    [Fact]
    public async Task ExampleConfiguration_LoadedAsAConfigFile_ServesTheDemoTenant()
    {
        using var temp = new TempDirectory();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddJsonFile(TenancyDefinitionsReaderTests.ExamplePath, optional: false);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Beamline:Tenancy:DataDirectory"] = temp.Path });
        await using var app = Build(builder);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(Address(app)) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "demo-admin-key-change-me");

        using var tenant = await ReadJsonAsync(await client.GetAsync("admin/v1/tenants/tenant_abc123"));
        Assert.Equal("default", tenant.RootElement.GetProperty("tenant").GetProperty("default_policy").GetString());
        using var request = new HttpRequestMessage(HttpMethod.Get, "whoami");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenancyDefinitionsReaderTests.DemoKey);
        using var whoami = await ReadJsonAsync(await client.SendAsync(request));
        Assert.Equal("tenant_abc123", whoami.RootElement.GetProperty("tenant_id").GetString());
        Assert.True(File.Exists(Path.Combine(temp.Path, "tenancy.db")));
        await app.StopAsync();
    }

    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(string databasePath)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Tenancy:DatabasePath"] = databasePath,
            ["Beamline:Tenancy:AdminKey"] = AdminKey,
            ["Beamline:Tenancy:Pepper"] = Directories.Pepper,
        });
        var app = Build(builder);
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(Address(app)) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return (app, client);
    }

    private static WebApplication Build(WebApplicationBuilder builder)
    {
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddBeamlineTenancy(builder.Configuration);
        var app = builder.Build();
        app.MapTenancyAdmin();
        // What the host will do per request, reduced to the tenancy part.
        app.MapGet("/whoami", (HttpContext context) =>
        {
            var directory = context.RequestServices.GetRequiredService<ITenantDirectory>();
            var header = context.Request.Headers.Authorization.ToString();
            return header.StartsWith("Bearer ", StringComparison.Ordinal)
                && directory.TryAuthenticate(header.AsSpan(7), out var principal)
                ? Results.Text(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["tenant_id"] = principal.TenantId,
                    ["team_id"] = principal.TeamId,
                    ["requests_per_minute"] = principal.Limits.RequestsPerMinute,
                }), "application/json")
                : Results.StatusCode(StatusCodes.Status401Unauthorized);
        });
        return app;
    }

    private static string Address(WebApplication app)
        => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/";

    private async Task<JsonDocument> WhoAmIAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "whoami");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadJsonAsync(response);
    }

    private async Task<JsonDocument> PostAsync(string path, object body, HttpStatusCode expected)
    {
        using var response = await _client.PostAsJsonAsync(path, body);
        var document = await ReadJsonAsync(response);
        Assert.True(expected == response.StatusCode, document.RootElement.GetRawText());
        return document;
    }

    private async Task PutAsync(string path, string json, HttpStatusCode expected)
    {
        using var response = await _client.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        using var document = await ReadJsonAsync(response);
        Assert.True(expected == response.StatusCode, document.RootElement.GetRawText());
    }

    private async Task<JsonDocument> SendJsonAsync(HttpMethod method, string path, string? json, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _client.SendAsync(request);
        var document = await ReadJsonAsync(response);
        Assert.True(expected == response.StatusCode, document.RootElement.GetRawText());
        return document;
    }

    private static async Task<JsonDocument> ExpectErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        using (response)
        {
            var document = await ReadJsonAsync(response);
            Assert.True(status == response.StatusCode, document.RootElement.GetRawText());
            Assert.False(document.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(code, document.RootElement.GetProperty("error").GetProperty("code").GetString());
            return document;
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response)
        => JsonDocument.Parse(await response.Content.ReadAsStringAsync());
}
