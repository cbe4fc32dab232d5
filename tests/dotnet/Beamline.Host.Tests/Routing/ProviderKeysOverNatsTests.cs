using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// Hardening item 9: provider API keys travelled in <c>http.request</c> block payloads over NATS.
/// A real <c>beamline serve</c> dispatching over a real nats-server to a real worker, with a
/// subscriber on every subject: the block names the credential, the worker resolves it from its
/// own executor configuration, and the upstream still gets the key.
/// </summary>
public sealed class ProviderKeysOverNatsTests(ProviderKeysOverNatsFixture host) : IClassFixture<ProviderKeysOverNatsFixture>
{
    [Fact]
    public async Task ExecuteOverNats_HttpProvider_NoApiKeyInAnyNatsMessage_UpstreamStillGetsIt()
    {
        var request = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = ProviderKeysOverNatsFixture.Tenant,
            ["request_id"] = "req-llm",
            ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hello" } },
            ["policy_id"] = "llm",
        }.ToJsonString();

        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, "beamline.router.v1.execute", request));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal(["llm:weighted:error:http_503", "llm:retry:ok:"], reply.GetProperty("route").GetProperty("attempts").EnumerateArray()
            .Select(a => $"{a.GetProperty("provider_id").GetString()}:{a.GetProperty("reason").GetString()}:{a.GetProperty("status").GetString()}:{(a.GetProperty("error_code").ValueKind == JsonValueKind.String ? a.GetProperty("error_code").GetString() : "")}"));
        Assert.Equal("Bearer " + ProviderKeysOverNatsFixture.ApiKey, host.Upstream.LastHeaders["authorization"]);
        var secret = Encoding.UTF8.GetBytes(ProviderKeysOverNatsFixture.ApiKey);
        var messages = host.Everything.Messages;
        // The blocks went over NATS, naming the credential...
        Assert.Contains(messages, m => m.Data is { } data && data.AsSpan().IndexOf("\"credential_ref\":\"llm\""u8) >= 0);
        // ...and no message, in its data or its headers, held the key.
        Assert.All(messages, m =>
        {
            Assert.True((m.Data ?? []).AsSpan().IndexOf(secret) < 0, $"the API key is in a message on '{m.Subject}'");
            Assert.DoesNotContain(m.Headers?.Values.SelectMany(v => v.ToArray()) ?? [],
                v => v is not null && v.Contains(ProviderKeysOverNatsFixture.ApiKey, StringComparison.Ordinal));
        });
    }
}

/// <summary>A nats-server with a subscriber on <c>&gt;</c>, a worker holding the credential, a control plane dispatching over NATS.</summary>
public sealed class ProviderKeysOverNatsFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_nats_keys";
    internal const string ApiKey = "sk-nats-test-5e4d3c2b1a";
    private const string ApiKeyVariable = "BEAMLINE_TEST_NATS_OPENAI_KEY";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-keys-nats-{Guid.NewGuid():N}.json");
    private readonly string _executorConfigFile = Path.Combine(Path.GetTempPath(), $"beamline-keys-nats-executors-{Guid.NewGuid():N}.json");
    private NatsTestClient _spy = null!;

    public NatsServer Nats { get; private set; } = null!;

    public WorkerProcess Worker { get; private set; } = null!;

    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The OpenAI-compatible upstream of provider <c>llm</c> (503 first, then 200).</summary>
    public FlakyUpstream Upstream { get; } = new();

    /// <summary>Every message on the NATS server since the fixture started.</summary>
    public NatsTestClient.Collector Everything { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        _spy = await NatsTestClient.ConnectAsync(Nats.Url);
        Everything = await _spy.CollectAsync(">");
        // The operator gives the worker the credential by name, and the secret in its environment.
        await File.WriteAllTextAsync(_executorConfigFile, new JsonObject
        {
            ["http"] = new JsonObject
            {
                // The worker's own list of the providers its blocks may call (nothing of it travels over NATS).
                ["providers"] = new JsonObject { ["llm"] = new JsonObject { ["hosts"] = new JsonArray("127.0.0.1") } },
                ["credentials"] = new JsonObject
                {
                    ["llm"] = new JsonObject { ["header"] = "Authorization", ["prefix"] = "Bearer ", ["value_env"] = ApiKeyVariable },
                },
            },
        }.ToJsonString());
        var environment = new Dictionary<string, string> { [ApiKeyVariable] = ApiKey };
        Worker = await WorkerProcess.StartAsync(environment, Nats.Url, WorkerProcess.NewId("keys-nats"), ["cpu=1", "io=2"],
            "--executor-config", _executorConfigFile);
        await File.WriteAllTextAsync(_configFile, Config());
        // The control plane has the key too (api_key_env names it): it must still not put it in a block.
        Process = await ControlPlaneProcess.StartAsync(environment, "--config", _configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        if (Worker is not null)
        {
            await Worker.DisposeAsync();
        }
        if (Everything is not null)
        {
            await Everything.DisposeAsync();
        }
        if (_spy is not null)
        {
            await _spy.DisposeAsync();
        }
        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
        Upstream.Dispose();
        File.Delete(_configFile);
        File.Delete(_executorConfigFile);
    }

    private string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "llm",
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "llm",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"llm","weight":100}],"fallbacks":[{"when":{"status":["503"]},"retry":1,"to":"llm"}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(new JsonObject
                {
                    ["id"] = "llm",
                    ["kind"] = "openai_compatible",
                    ["model"] = "test-model",
                    ["base_url"] = Upstream.BaseUrl,
                    ["api_key_env"] = ApiKeyVariable,
                    ["timeout_ms"] = 10000,
                }),
            },
        },
    }.ToJsonString();
}
