using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Beamline.Accounting.Ledger;
using Beamline.Host.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Tests.Usage;

/// <summary>
/// The usage views over loopback HTTP in this process, with real tenancy (SQLite) and a real
/// usage.db seeded through the ledger: who may read what, and the answers' shapes.
/// </summary>
public sealed class UsageEndpointsTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "beamline-usage-host-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new();
    private WebApplication _app = null!;
    private string _keyA = null!;
    private string _keyB = null!;
    private readonly Dictionary<string, string> _keyIds = [];

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Beamline:Tenancy:DataDirectory"] = _dataDirectory,
            ["Beamline:Tenancy:AdminKey"] = AdminKey,
        });
        builder.Services.AddBeamlineTenancy(builder.Configuration);
        builder.Services.AddBeamlineActivity(builder.Configuration);
        builder.Services.AddBeamlineUsage(builder.Configuration);
        _app = builder.Build();
        _app.MapTenancyAdmin();
        _app.MapUsageEndpoints();
        await _app.StartAsync();
        _http.BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        await AdminPostAsync("admin/v1/tenants", new { id = "tenant_a", limits = new { monthly_budget_usd = 20 } });
        await AdminPostAsync("admin/v1/tenants", new { id = "tenant_b" });
        await AdminPostAsync("admin/v1/tenants/tenant_a/teams", new { id = "red" });
        _keyA = await CreateKeyAsync("tenant_a", "red");
        _keyB = await CreateKeyAsync("tenant_b", null);

        var ledger = _app.Services.GetRequiredService<UsageLedger>();
        var now = DateTimeOffset.UtcNow;
        ledger.Record(Record("tenant_a", "red", "openai", "gpt-4o-mini", 2_500_000_000, now));
        ledger.Record(Record("tenant_a", null, "anthropic", "claude", 500_000_000, now));
        ledger.Record(Record("tenant_b", null, "openai", "gpt-4o", 9_000_000_000, now));
        await ledger.FlushAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Fact]
    public async Task TenantView_AKeyReadsItsOwnTenantOnly()
    {
        using var a = await GetJsonAsync("v1/usage", _keyA, HttpStatusCode.OK);
        using var b = await GetJsonAsync("v1/usage", _keyB, HttpStatusCode.OK);

        var usageA = a.RootElement.GetProperty("usage");
        Assert.True(a.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("tenant_a", usageA.GetProperty("tenant_id").GetString());
        Assert.Equal(3m, usageA.GetProperty("spend_usd").GetDecimal());
        Assert.Equal(2, usageA.GetProperty("requests").GetInt64());
        Assert.Equal(["openai", "anthropic"], usageA.GetProperty("by_provider").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.DoesNotContain("gpt-4o\"", usageA.GetRawText(), StringComparison.Ordinal); // B's model is nowhere in A's answer
        Assert.Equal(9m, b.RootElement.GetProperty("usage").GetProperty("spend_usd").GetDecimal());

        using var denied = await GetJsonAsync("v1/usage?tenant_id=tenant_b", _keyA, HttpStatusCode.Forbidden);
        Assert.Equal("denied", Code(denied));
    }

    [Fact]
    public async Task TenantView_WithoutAValidKey_IsUnauthorized()
    {
        using var none = await GetJsonAsync("v1/usage", null, HttpStatusCode.Unauthorized);
        using var wrong = await GetJsonAsync("v1/usage", "bl_nokey_wrongsecret", HttpStatusCode.Unauthorized);
        using var admin = await GetJsonAsync("v1/usage", AdminKey, HttpStatusCode.Unauthorized);

        Assert.All([none, wrong, admin], body => Assert.Equal("unauthorized", Code(body)));
    }

    [Fact]
    public async Task AdminView_TheShapeWithBudgetForecastAndBreakdowns()
    {
        using var body = await GetJsonAsync($"admin/v1/tenants/tenant_a/usage?period={DateTime.UtcNow:yyyy-MM}", AdminKey, HttpStatusCode.OK);

        var usage = body.RootElement.GetProperty("usage");
        Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), usage.GetProperty("period").GetString());
        Assert.Equal(20m, usage.GetProperty("budget_usd").GetDecimal());
        Assert.Equal(15m, usage.GetProperty("budget_used_percent").GetDecimal());
        Assert.Equal(100, usage.GetProperty("input_tokens").GetInt64());
        Assert.Equal(20, usage.GetProperty("output_tokens").GetInt64());
        foreach (var name in (string[])["by_provider", "by_model", "by_team", "by_key", "daily", "suggestions"])
        {
            Assert.Equal(JsonValueKind.Array, usage.GetProperty(name).ValueKind);
        }
        Assert.Equal(["red", null], usage.GetProperty("by_team").EnumerateArray().Select(t => t.GetProperty("id").GetString()));
        Assert.Equal(DateTime.UtcNow.Day, usage.GetProperty("daily").GetArrayLength());
        var forecast = usage.GetProperty("forecast");
        Assert.Equal("recent_daily_mean", forecast.GetProperty("method").GetString());
        Assert.True(forecast.GetProperty("end_of_period_spend_usd").GetDecimal() >= 3m);
    }

    [Fact]
    public async Task AdminView_Errors()
    {
        using var unknown = await GetJsonAsync("admin/v1/tenants/tenant_zz/usage", AdminKey, HttpStatusCode.NotFound);
        using var badPeriod = await GetJsonAsync("admin/v1/tenants/tenant_a/usage?period=2026-13", AdminKey, HttpStatusCode.BadRequest);
        using var badFormat = await GetJsonAsync("admin/v1/tenants/tenant_a/usage?format=xml", AdminKey, HttpStatusCode.BadRequest);
        using var tenantKey = await GetJsonAsync("admin/v1/tenants/tenant_a/usage", _keyA, HttpStatusCode.Unauthorized);

        Assert.Equal("tenant_not_found", Code(unknown));
        Assert.Equal("invalid_request", Code(badPeriod));
        Assert.Equal("period", badPeriod.RootElement.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        Assert.Equal("invalid_request", Code(badFormat));
        Assert.Equal("unauthorized", Code(tenantKey));
    }

    [Fact]
    public async Task Csv_BothViews_OneRowPerDayTeamKeyProviderModel()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/usage?format=csv");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _keyB);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n");
        Assert.Equal(UsageLedger.CsvHeader, lines[0]);
        Assert.Equal($"{DateTime.UtcNow:yyyy-MM-dd},,{KeyIdOf(_keyB)},openai,gpt-4o,1,50,10,0,0,9", lines[1]);
        Assert.Equal([""], lines[2..]);

        using var admin = new HttpRequestMessage(HttpMethod.Get, "admin/v1/tenants/tenant_a/usage?format=csv");
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var adminResponse = await _http.SendAsync(admin);
        Assert.Equal(4, (await adminResponse.Content.ReadAsStringAsync()).Split("\r\n").Length); // header, 2 rows, final line end
    }

    private UsageRecord Record(string tenant, string? team, string provider, string model, long costNanos, DateTimeOffset time) => new()
    {
        Time = time,
        TenantId = tenant,
        TeamId = team,
        KeyId = KeyIdOf(tenant == "tenant_a" ? _keyA : _keyB),
        RequestId = Guid.NewGuid().ToString("N"),
        ProviderId = provider,
        Model = model,
        InputTokens = 50,
        OutputTokens = 10,
        CostNanos = costNanos,
    };

    private string KeyIdOf(string key) => _keyIds[key];

    private static string? Code(JsonDocument body) => body.RootElement.GetProperty("error").GetProperty("code").GetString();

    private async Task<JsonDocument> GetJsonAsync(string path, string? bearer, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    private async Task<JsonDocument> AdminPostAsync(string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    private async Task<string> CreateKeyAsync(string tenant, string? team)
    {
        using var created = await AdminPostAsync($"admin/v1/tenants/{tenant}/keys", team is null ? new { name = "k" } : new { name = "k", team_id = team });
        var key = created.RootElement.GetProperty("key").GetString()!;
        _keyIds[key] = created.RootElement.GetProperty("api_key").GetProperty("key_id").GetString()!;
        return key;
    }
}
