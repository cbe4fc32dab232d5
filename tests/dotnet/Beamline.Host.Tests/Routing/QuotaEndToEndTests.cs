using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Host.Routing;
using Beamline.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// Tenancy limits on the request path: the control plane's web host built in process from a
/// configuration file (as <c>beamline serve --config</c> builds it), a real HTTP client.
/// </summary>
public sealed class QuotaEndToEndTests : IAsyncLifetime, IDisposable
{
    private const string QuotaKey = "bl_quota_uHimgB2anmizDtY0MLteC93NmEo3o-44Wrwn_wMcf-c";
    private const string AllowKey = "bl_allow_QQCDc1c1oQ5lihnt0XBOYGyd0RLiJYJbY_r-3tdmyLk";
    private const string NoneKey = "bl_none_FAvtv5w_bVaphG0rpwiHmGg_TaDCSCMTNuagVnnk_f4";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-quota-{Guid.NewGuid():N}.json");
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("beamline-quota-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private WebApplication _app = null!;
    private Uri _baseAddress = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        var url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{FreePort.Next()}");
        _app = BeamlineWebHost.Build([], new Dictionary<string, string?>
        {
            ["Beamline:Http:Urls"] = url,
            ["Beamline:Tenancy:DataDirectory"] = _dataDirectory,
            ["Logging:LogLevel:Default"] = "Warning",
        }, _configFile);
        await _app.StartAsync();
        _baseAddress = new Uri(url + "/");
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        File.Delete(_configFile);
        Directory.Delete(_dataDirectory, recursive: true);
    }

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Decide_TenantOverRequestsPerMinute_Returns429QuotaExceeded()
    {
        for (var i = 0; i < 3; i++)
        {
            var (ok, _, _, _) = await DecideAsync("tenant_quota", QuotaKey);
            Assert.Equal(HttpStatusCode.OK, ok);
        }

        var (status, body, bytes, retryAfterHeader) = await DecideAsync("tenant_quota", QuotaKey);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        var error = body.GetProperty("error");
        Assert.Equal("quota_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("tenant 'tenant_quota' is over its limit of 3 requests per minute", error.GetProperty("message").GetString());
        var retryAfter = error.GetProperty("details").GetProperty("retry_after_seconds").GetInt32();
        Assert.InRange(retryAfter, 1, 60);
        Assert.True(DecideProcessor.TryGetRetryAfter(bytes, out var parsed));
        Assert.Equal(retryAfter, parsed);
        Assert.Equal(TimeSpan.FromSeconds(retryAfter), retryAfterHeader);
        Assert.Equal("7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71", body.GetProperty("context").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Decide_KeyAllowedProviders_RouterPicksOnlyThose()
    {
        for (var i = 0; i < 20; i++)
        {
            var (status, body, _, _) = await DecideAsync("tenant_allow", AllowKey, userId: $"user_{i}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("anthropic", body.GetProperty("decision").GetProperty("provider_id").GetString());
        }

        var (refused, error, _, _) = await DecideAsync("tenant_allow", NoneKey);

        Assert.Equal(HttpStatusCode.InternalServerError, refused);
        Assert.Equal("decision_failed", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("allowed_providers=[local_llm]", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DecideOnTheBus_AppliesTheTenantsLimitsFromTheSnapshot()
    {
        var processor = _app.Services.GetRequiredService<DecideProcessor>();
        var request = Encoding.UTF8.GetBytes(TaskForm("tenant_bus"));

        var replies = new (int Status, JsonElement Reply)[3];
        for (var i = 0; i < replies.Length; i++)
        {
            var buffer = new ArrayBufferWriter<byte>();
            int status;
            using (var writer = new Utf8JsonWriter(buffer))
            {
                status = processor.Start(request, principal: null, writer, 1 << 20, "cp1_nats", CancellationToken.None).Status;
            }
            replies[i] = (status, JsonDocument.Parse(buffer.WrittenMemory).RootElement);
        }

        Assert.All(replies.Take(2), r => Assert.Equal("anthropic", r.Reply.GetProperty("decision").GetProperty("provider_id").GetString()));
        Assert.Equal(429, replies[2].Status);
        Assert.Equal("quota_exceeded", replies[2].Reply.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Blocks_CountAgainstTheSameQuotaAsDecides()
    {
        // Two decides and one block use the tenant's 3 requests of this minute: the next block is refused.
        for (var i = 0; i < 2; i++)
        {
            var (ok, _, _, _) = await DecideAsync("tenant_quota", QuotaKey);
            Assert.Equal(HttpStatusCode.OK, ok);
        }
        var (blockOk, _, _) = await BlockAsync();
        Assert.Equal(HttpStatusCode.OK, blockOk);

        var (status, body, retryAfter) = await BlockAsync();

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("quota_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        Assert.NotNull(retryAfter);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, TimeSpan? RetryAfter)> BlockAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, "v1/blocks"))
        {
            Content = new StringContent("""{"type":"echo","tenant_id":"tenant_quota","payload":{"n":1}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", QuotaKey);
        using var response = await _http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return (response.StatusCode, JsonDocument.Parse(bytes).RootElement, response.Headers.RetryAfter?.Delta);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, byte[] Bytes, TimeSpan? RetryAfter)> DecideAsync(string tenant, string key, string? userId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(TaskForm(tenant, userId), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await _http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return (response.StatusCode, JsonDocument.Parse(bytes).RootElement, bytes, response.Headers.RetryAfter?.Delta);
    }

    private static string TaskForm(string tenant, string? userId = null)
    {
        var request = JsonNode.Parse(Cp1Fixtures.Request("decide_request_task_form.json"))!.AsObject();
        request["tenant_id"] = tenant;
        request.Remove("policy_id");
        if (userId is not null)
        {
            request["context"]!["user_id"] = userId;
        }
        return request.ToJsonString();
    }

    // tenant_quota: 3 requests per minute. tenant_allow: one key may use anthropic only, another
    // local_llm only (which the default policy never names). tenant_bus: for the NATS path.
    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    Tenant("tenant_quota", new JsonObject { ["requests_per_minute"] = 3 }, new JsonObject { ["key"] = QuotaKey }),
                    Tenant("tenant_allow", null,
                        new JsonObject { ["key"] = AllowKey, ["limits"] = new JsonObject { ["allowed_providers"] = new JsonArray("anthropic") } },
                        new JsonObject { ["key"] = NoneKey, ["limits"] = new JsonObject { ["allowed_providers"] = new JsonArray("local_llm") } }),
                    Tenant("tenant_bus", new JsonObject { ["requests_per_minute"] = 2, ["allowed_providers"] = new JsonArray("anthropic") })),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"openai","kind":"openai","prices":{"input_per_mtok":0.15,"output_per_mtok":0.6}}"""),
                    JsonNode.Parse("""{"id":"anthropic","kind":"anthropic","prices":{"input_per_mtok":0.8,"output_per_mtok":4}}"""),
                    JsonNode.Parse("""{"id":"local_llm","kind":"openai","prices":{"input_per_mtok":0,"output_per_mtok":0}}""")),
            },
        },
    }.ToJsonString();

    private static JsonObject Tenant(string id, JsonObject? limits, params JsonObject[] keys) => new()
    {
        ["id"] = id,
        ["default_policy"] = "default",
        ["limits"] = limits,
        ["keys"] = new JsonArray([.. keys]),
        ["policies"] = new JsonArray(new JsonObject { ["id"] = "default", ["file"] = Cp1Fixtures.Policy("default") }),
    };
}
