using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// A real <c>beamline serve</c> whose OpenAI face the SDK tests call, with a <see cref="GatewayUpstream"/>
/// behind its HTTP providers (called through the in-process <c>http.request</c> executor, which may
/// reach a provider's <c>base_url</c> host without any allow-list) and <c>mock</c> providers in-process. Every scenario has its own
/// policy and provider, so that one test's failures never open another's breaker.
/// </summary>
public sealed class OpenAIGatewayFixture : IAsyncLifetime
{
    /// <summary>The tenant's key, as its users put it in <c>OPENAI_API_KEY</c>.</summary>
    public const string Key = "bl_acme_8TuqHhOWk1WTBbCPiHvIbCduVtcpsalf3UmxWMpS94j";

    /// <summary>The key of a tenant limited to one request a minute.</summary>
    public const string LimitedKey = "bl_slow_9ROrSIQxLWW2kWOuAEVcRN3Ch4T8gATxQQaogsuqboV";

    /// <summary>The key of a tenant whose default policy names a policy it does not have.</summary>
    public const string OrphanKey = "bl_orph_Q3mabgxZZSiFrQHYIhjIQovJxSfqhfZwT67WnTE0hto";

    /// <summary>The operator's key for the upstream, which Beamline adds to its calls.</summary>
    public const string UpstreamKey = "sk-upstream-test-91c3e0";

    /// <summary>What the mock provider of the default policy answers.</summary>
    public const string MockReply = "Hello from the mock provider";

    private const string UpstreamKeyVariable = "BEAMLINE_TEST_GATEWAY_UPSTREAM_KEY";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-gateway-{Guid.NewGuid():N}.json");

    /// <summary>The control plane.</summary>
    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The upstream behind the HTTP providers.</summary>
    public GatewayUpstream Upstream { get; private set; } = null!;

    /// <summary>The base URL an OpenAI SDK is given: <c>http://127.0.0.1:port/v1</c>.</summary>
    public Uri OpenAIBaseUrl => new(Process.BaseAddress, "v1");

    /// <summary>
    /// The upstream scenarios, each a provider <c>up_{name}</c> (dashes become underscores) and,
    /// unless named otherwise in <see cref="Config"/>, a policy of the same name.
    /// </summary>
    public static readonly string[] Scenarios =
    [
        "ok", "tools", "stall-fallback", "stall-alone", "limited-fallback", "limited-alone", "down-a", "down-b",
        "reset-stream", "reset-whole", "malformed-stream", "malformed-whole", "first", "abort-stream", "abort-whole",
    ];

    /// <summary>The provider id of scenario <paramref name="scenario"/>.</summary>
    public static string Provider(string scenario) => "up_" + scenario.Replace('-', '_');

    /// <summary>What scenario <paramref name="name"/> of the upstream saw.</summary>
    public UpstreamScenario Scenario(string name) => Upstream.Scenario(name);

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

    private static JsonObject Policy(string id, string provider, string? fallbacks = null, string? extra = null) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""{"version":"1.0","providers":[{"name":"{{provider}}","weight":100}],"fallbacks":[{{fallbacks}}]{{extra}}}"""),
    };

    private static string Fallback(string status, string to) => $$"""{"when":{"status":["{{status}}"]},"retry":0,"to":"{{to}}"}""";

    private string Config()
    {
        var policies = new JsonArray(
            Policy("chat", "mock_chat"),
            Policy("guarded", "mock_chat", extra: ""","validators":[{"id":"pii_guard","on_fail":"block"}]"""),
            Policy("tools", Provider("tools")),
            Policy("ok", Provider("ok")),
            Policy("stall-fallback", Provider("stall-fallback"), Fallback("timeout", Provider("ok"))),
            Policy("stall-alone", Provider("stall-alone")),
            Policy("limited-fallback", Provider("limited-fallback"), Fallback("rate_limited", Provider("ok"))),
            Policy("limited-alone", Provider("limited-alone")),
            Policy("down", Provider("down-a"), Fallback("5xx", Provider("down-b"))),
            Policy("reset-stream", Provider("reset-stream")),
            Policy("reset-whole", Provider("reset-whole")),
            Policy("malformed-stream", Provider("malformed-stream")),
            Policy("malformed-whole", Provider("malformed-whole")),
            Policy("first", Provider("first")),
            Policy("abort-stream", Provider("abort-stream")),
            Policy("abort-whole", Provider("abort-whole")));
        var providers = new JsonArray(
            JsonNode.Parse($$"""{"id":"mock_chat","kind":"mock","model":"mock-chat-1","reply":"{{MockReply}}"}"""),
            JsonNode.Parse("""{"id":"mock_embed","kind":"mock","model":"mock-embed-1"}"""));
        foreach (var scenario in Scenarios)
        {
            providers.Add(new JsonObject
            {
                ["id"] = Provider(scenario),
                ["kind"] = "openai_compatible",
                ["model"] = "upstream-model",
                ["base_url"] = Upstream.BaseUrl(scenario),
                ["api_key_env"] = UpstreamKeyVariable,
                // A stalled upstream times out quickly; the others never come near it.
                ["timeout_ms"] = scenario.StartsWith("stall", StringComparison.Ordinal) ? 1000 : 20_000,
            });
        }
        return new JsonObject
        {
            ["Beamline"] = new JsonObject
            {
                ["Tenancy"] = new JsonObject
                {
                    ["AdminKey"] = "test-admin-key-0123456789",
                    ["Pepper"] = "test-pepper-0123456789abcdef",
                    ["tenants"] = new JsonArray(
                        new JsonObject
                        {
                            ["id"] = "acme",
                            ["default_policy"] = "chat",
                            ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                            ["policies"] = policies,
                        },
                        new JsonObject
                        {
                            ["id"] = "slow",
                            ["default_policy"] = "chat",
                            ["limits"] = new JsonObject { ["requests_per_minute"] = 1 },
                            ["keys"] = new JsonArray(new JsonObject { ["key"] = LimitedKey }),
                            ["policies"] = new JsonArray(Policy("chat", "mock_chat")),
                        },
                        new JsonObject
                        {
                            ["id"] = "orphan",
                            ["default_policy"] = "gone",
                            ["keys"] = new JsonArray(new JsonObject { ["key"] = OrphanKey }),
                            ["policies"] = new JsonArray(Policy("chat", "mock_chat")),
                        }),
                    ["providers"] = providers,
                },
            },
        }.ToJsonString();
    }
}
