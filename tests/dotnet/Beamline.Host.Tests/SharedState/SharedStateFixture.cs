using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.SharedState;

/// <summary>
/// A nats-server with JetStream and two published control planes on it (separate data
/// directories, one configuration file), so that state is shared only through JetStream KV.
/// </summary>
public sealed class SharedStateFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string BudgetKey = "bl_budget_Vd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    public const string QuotaKey = "bl_quota_Wd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    public const string RouteKey = "bl_route_Xd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    public const string BreakerKey = "bl_breaker_Yd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    public const string FreeKey = "bl_free_Zd3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";
    public const string LabKey = "bl_lab_Ad3Xk9Qm2Lp7Rt5Yb8Nc1Hf4Js6Ae0Ui3Ko8Pw2Zq7M";

    /// <summary>The budget tenant's monthly budget.</summary>
    public const decimal BudgetUsd = 0.05m;

    /// <summary>The quota tenant's requests per minute.</summary>
    public const int RequestsPerMinute = 10;

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-shared-{Guid.NewGuid():N}.json");

    public NatsServer Nats { get; private set; } = null!;

    public ControlPlaneProcess A { get; private set; } = null!;

    public ControlPlaneProcess B { get; private set; } = null!;

    public HttpClient Http { get; } = new(new SocketsHttpHandler { MaxConnectionsPerServer = 1000 }) { Timeout = TimeSpan.FromSeconds(60) };

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync(jetStream: true);
        await File.WriteAllTextAsync(_configFile, Config(Nats.Url));
        A = await ControlPlaneProcess.StartAsync("--config", _configFile);
        B = await ControlPlaneProcess.StartAsync("--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        foreach (var process in new IAsyncDisposable?[] { B, A, Nats })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        File.Delete(_configFile);
    }

    /// <summary>A chat completion through the gateway with <paramref name="key"/>.</summary>
    public async Task<HttpStatusCode> ChatAsync(ControlPlaneProcess host, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.BaseAddress, "v1/chat/completions"))
        {
            Content = new StringContent("""{"model":"chat","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>An admin API call.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(ControlPlaneProcess host, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(host.BaseAddress, path));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Requests and spend in <paramref name="host"/>'s own usage ledger once it holds <paramref name="requests"/> requests.</summary>
    public async Task<decimal> SpendAsync(ControlPlaneProcess host, string key, int requests)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(host.BaseAddress, "v1/usage"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await Http.SendAsync(request, timeout.Token);
            var usage = (await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("usage");
            if (usage.GetProperty("requests").GetInt64() >= requests)
            {
                return usage.GetProperty("spend_usd").GetDecimal();
            }
            await Task.Delay(100, timeout.Token);
        }
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it holds or <paramref name="within"/> has passed: true
    /// when it held. The polling interval is short; nothing is asserted on a fixed sleep.
    /// </summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> probe, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await probe())
            {
                return true;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
    }

    private static JsonObject Tenant(string id, string key, string defaultPolicy, JsonObject limits, params JsonObject[] policies) => new()
    {
        ["id"] = id,
        ["default_policy"] = defaultPolicy,
        ["limits"] = limits,
        ["keys"] = new JsonArray(new JsonObject { ["key"] = key }),
        ["policies"] = new JsonArray(policies),
    };

    private static JsonObject Policy(string id, string json) => new() { ["id"] = id, ["json"] = JsonNode.Parse(json) };

    private static string Config(string natsUrl) => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Nats"] = new JsonObject { ["Url"] = natsUrl },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                // Replicated API keys verify only where the pepper is the same.
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    Tenant("budget", BudgetKey, "chat", new JsonObject { ["monthly_budget_usd"] = BudgetUsd },
                        Policy("chat", """{"version":"1.0","providers":[{"name":"priced_mock","weight":100}]}""")),
                    Tenant("quota", QuotaKey, "chat", new JsonObject { ["requests_per_minute"] = RequestsPerMinute },
                        Policy("chat", """{"version":"1.0","providers":[{"name":"free_mock","weight":100}]}""")),
                    Tenant("free", FreeKey, "chat", new JsonObject(),
                        Policy("chat", """{"version":"1.0","providers":[{"name":"free_mock","weight":100}]}""")),
                    Tenant("route", RouteKey, "sticky", new JsonObject(),
                        Policy("sticky", """
                            {"version":"1.0","providers":[{"name":"mock_one","weight":50},{"name":"mock_two","weight":50}],
                             "sticky":{"enabled":true,"session_key":"user_id","ttl":"15m"}}
                            """)),
                    Tenant("lab", LabKey, "chat", new JsonObject(),
                        Policy("chat", """{"version":"1.0","providers":[{"name":"mock_one","weight":50},{"name":"mock_two","weight":50}]}""")),
                    Tenant("breaker", BreakerKey, "broken", new JsonObject(),
                        Policy("broken", """
                            {"version":"1.0","providers":[{"name":"dead","weight":100}],
                             "circuit_breaker":{"enabled":true,"failure_threshold":1,"success_threshold":1,"timeout_ms":60000,"half_open_max_calls":1}}
                            """))),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""
                        {"id":"priced_mock","kind":"mock","model":"mock-priced-1","reply":"Hello from the priced mock","default_max_tokens":20,
                         "prices":{"input_per_mtok":100,"output_per_mtok":200}}
                        """),
                    JsonNode.Parse("""{"id":"free_mock","kind":"mock","model":"mock-free-1","reply":"Hello"}"""),
                    JsonNode.Parse("""{"id":"mock_one","kind":"mock","model":"mock-one","reply":"one"}"""),
                    JsonNode.Parse("""{"id":"mock_two","kind":"mock","model":"mock-two","reply":"two"}"""),
                    // Nothing listens on port 1: every call fails at once.
                    JsonNode.Parse("""{"id":"dead","kind":"openai_compatible","model":"dead-1","base_url":"http://127.0.0.1:1/v1"}""")),
            },
        },
    }.ToJsonString();
}
