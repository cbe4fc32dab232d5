using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// A real <c>beamline serve</c> with <c>mock</c> providers and three tenants, whose <c>/metrics</c>
/// the observability tests scrape. Each test sends its traffic as its own tenant, so that the
/// values one test asserts are never moved by another's.
/// </summary>
public sealed class MetricsFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string AcmeKey = "bl_acme_8TuqHhOWk1WTBbCPiHvIbCduVtcpsalf3UmxWMpS94j";
    public const string BetaKey = "bl_beta_Q7pLm2VxR9sKd4TfYh6JwN3cB8gZa5EuXo1iHtMvPqs";
    public const string SlowKey = "bl_slow_9ROrSIQxLWW2kWOuAEVcRN3Ch4T8gATxQQaogsuqboV";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-metrics-{Guid.NewGuid():N}.json");

    /// <summary>The control plane.</summary>
    public ControlPlaneProcess Process { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    /// <summary>One chat completion through the OpenAI face; the HTTP status.</summary>
    public static async Task<int> ChatAsync(HttpClient http, Uri baseAddress, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "v1/chat/completions"))
        {
            Content = new StringContent("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>One CP1 decide over HTTP; the HTTP status.</summary>
    public static async Task<int> DecideAsync(HttpClient http, Uri baseAddress, string key, string tenantId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(new JsonObject
            {
                ["version"] = "1",
                ["tenant_id"] = tenantId,
                ["request_id"] = $"metrics-{Guid.NewGuid():N}",
                ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hi" } },
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>GET /metrics; the status and the text.</summary>
    public static async Task<(int Status, string Text)> ScrapeAsync(HttpClient http, Uri baseAddress, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseAddress, "metrics"));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Scrapes until <paramref name="ready"/> holds for the text (the exporter may serve a cached
    /// scrape for a moment), failing with the last text after a generous time.
    /// </summary>
    public static async Task<PrometheusText> ScrapeUntilAsync(HttpClient http, Uri baseAddress, Func<PrometheusText, bool> ready, string? key = null)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var (status, text) = await ScrapeAsync(http, baseAddress, key);
            Assert.Equal(200, status);
            var parsed = PrometheusText.Parse(text);
            if (ready(parsed))
            {
                return parsed;
            }
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"the scrape never showed what was expected:\n{text}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>The configuration: tenants acme, beta and slow (one request a minute), all on a mock provider.</summary>
    public static string Config(JsonObject? metrics = null)
    {
        static JsonObject Tenant(string id, string key, JsonObject? limits = null)
        {
            var tenant = new JsonObject
            {
                ["id"] = id,
                ["default_policy"] = "chat",
                ["keys"] = new JsonArray(new JsonObject { ["key"] = key }),
                ["policies"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = "chat",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"mock_chat","weight":100}]}"""),
                    },
                    new JsonObject
                    {
                        ["id"] = "guarded",
                        ["json"] = JsonNode.Parse("""
                            {"version":"1.0","providers":[{"name":"mock_chat","weight":100}],
                             "circuit_breaker":{"enabled":true,"failure_threshold":5,"success_threshold":1,"timeout_ms":60000}}
                            """),
                    }),
            };
            if (limits is not null)
            {
                tenant["limits"] = limits;
            }
            return tenant;
        }
        var beamline = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    Tenant("acme", AcmeKey),
                    Tenant("beta", BetaKey),
                    Tenant("slow", SlowKey, new JsonObject { ["requests_per_minute"] = 1 })),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"mock_chat","kind":"mock","model":"mock-chat-1","reply":"hello"}""")),
            },
        };
        if (metrics is not null)
        {
            beamline["Metrics"] = metrics;
        }
        return new JsonObject { ["Beamline"] = beamline }.ToJsonString();
    }

    /// <summary>A number as Prometheus writes it.</summary>
    public static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
