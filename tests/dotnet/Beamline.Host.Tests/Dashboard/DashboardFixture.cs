using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Beamline.Testing;
using Microsoft.Playwright;

namespace Beamline.Host.Tests.Dashboard;

/// <summary>
/// A real <c>beamline serve</c> (tenants acme and beta on a <c>mock</c> provider, acme with a monthly
/// budget) and a real headless Chromium driven by Playwright: the system browser
/// (<c>/usr/bin/chromium</c>, or <c>BEAMLINE_CHROMIUM</c>), never one downloaded by Playwright.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789";
    public const string AcmeKey = "bl_acme_8TuqHhOWk1WTBbCPiHvIbCduVtcpsalf3UmxWMpS94j";
    public const string BetaKey = "bl_beta_Q7pLm2VxR9sKd4TfYh6JwN3cB8gZa5EuXo1iHtMvPqs";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-dashboard-{Guid.NewGuid():N}.json");

    /// <summary>The control plane.</summary>
    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>Playwright's driver.</summary>
    public IPlaywright Playwright { get; private set; } = null!;

    /// <summary>The browser; each test opens its own context (cookies are per context).</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>A client that keeps no cookies (each request says what it carries).</summary>
    public HttpClient Http { get; } = new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The system Chromium.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("BEAMLINE_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"no Chromium at {ChromiumPath}: run ./build.sh deps (Debian: apt-get install chromium), or set BEAMLINE_CHROMIUM");
        }
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile);
        // Generous: a shared, busy test machine; Playwright retries the check until then, it times nothing.
        Assertions.SetDefaultExpectTimeout(30_000);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
        });
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        Playwright?.Dispose();
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    /// <summary>The absolute URL of <paramref name="path"/> (no leading slash).</summary>
    public Uri Url(string path) => new(Process.BaseAddress, path);

    /// <summary>One chat completion through the OpenAI face as <paramref name="key"/>'s tenant; the HTTP status.</summary>
    public async Task<int> ChatAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("v1/chat/completions"))
        {
            Content = new StringContent("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>One <c>echo</c> block through <c>/v1/blocks</c> as tenant acme; the HTTP status.</summary>
    public async Task<int> EchoBlockAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("v1/blocks"))
        {
            Content = new StringContent("""{"type":"echo","tenant_id":"acme","payload":{"hello":"world"}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AcmeKey);
        using var response = await Http.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>Logs in with <paramref name="key"/> through the form (a POST as a browser sends it); the response.</summary>
    public Task<HttpResponseMessage> LoginAsync(string key)
        => Http.PostAsync(Url("ui/session"), new FormUrlEncodedContent([new KeyValuePair<string, string>("key", key)]));

    /// <summary>The session cookie (<c>name=value</c>) that <paramref name="login"/> set.</summary>
    public static string SessionCookie(HttpResponseMessage login)
    {
        var header = Assert.Single(login.Headers.GetValues("Set-Cookie"), h => h.StartsWith("beamline_session=", StringComparison.Ordinal));
        return header[..header.IndexOf(';', StringComparison.Ordinal)];
    }

    /// <summary>The configuration: tenants acme (budget $25 a month) and beta, both on one mock provider with a breaker.</summary>
    public static string Config()
    {
        static JsonObject Tenant(string id, string key, JsonObject? limits)
        {
            var tenant = new JsonObject
            {
                ["id"] = id,
                ["name"] = id.ToUpperInvariant(),
                ["default_policy"] = "chat",
                ["keys"] = new JsonArray(new JsonObject { ["key"] = key }),
                ["policies"] = new JsonArray(new JsonObject
                {
                    ["id"] = "chat",
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
        return new JsonObject
        {
            ["Beamline"] = new JsonObject
            {
                ["Tenancy"] = new JsonObject
                {
                    ["AdminKey"] = AdminKey,
                    ["Pepper"] = "test-pepper-0123456789abcdef",
                    ["tenants"] = new JsonArray(
                        Tenant("acme", AcmeKey, new JsonObject { ["monthly_budget_usd"] = 25 }),
                        Tenant("beta", BetaKey, null)),
                    ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"mock_chat","kind":"mock","model":"mock-chat-1","reply":"hello"}""")),
                },
            },
        }.ToJsonString();
    }
}

/// <summary>The dashboard tests share one control plane and one browser, and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "Dashboard";
}
