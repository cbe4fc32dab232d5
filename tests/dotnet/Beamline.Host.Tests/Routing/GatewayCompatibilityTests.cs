using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// CP1 decide and get_decision as the upstream C gateway uses them, end to end: requests of its
/// shape (tests/dotnet/fixtures/c-gateway) from the npm <c>nats</c> client through a real
/// nats-server to a real <c>beamline serve --nats</c>; and the gateway's error mapping.
/// </summary>
public sealed class GatewayCompatibilityTests(GatewayFixture host) : IClassFixture<GatewayFixture>
{
    private const string Decide = "beamline.router.v1.decide";
    private const string GetDecision = "beamline.router.v1.get_decision";

    private static string Fixture(string name) => Encoding.UTF8.GetString(GatewayFixtures.Read(name));

    [Theory]
    [InlineData("decide_full.json")]
    [InlineData("decide_message_empty.json")]
    [InlineData("decide_message_empty_with_task.json")]
    [InlineData("decide_message_partial.json")]
    public async Task Decide_GatewayShapes_AreDecided(string fixture)
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, Decide, Fixture(fixture)));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("echo_cpu", reply.GetProperty("decision").GetProperty("provider_id").GetString());
    }

    [Theory]
    [InlineData("tenant_abc123", "default", "msg-x", "tenant_other", "invalid_request")]
    [InlineData("tenant_nobody", "default", null, null, "unauthorized")]
    [InlineData("tenant_abc123", "no_such_policy", null, null, "policy_not_found")]
    [InlineData("tenant_abc123", "forbidden", null, null, "decision_failed")]
    public async Task Decide_GatewayShape_EachErrorCodeTheGatewayMaps(string tenant, string policy, string? messageId, string? messageTenant, string code)
    {
        var message = new JsonObject();
        if (messageId is not null)
        {
            message["message_id"] = messageId;
        }
        if (messageTenant is not null)
        {
            message["tenant_id"] = messageTenant;
        }
        var request = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = tenant,
            ["request_id"] = "req-" + code,
            ["trace_id"] = "trace-" + code,
            ["message"] = message,
            ["policy_id"] = policy,
        };
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, Decide, request.ToJsonString()));

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.Equal(code, reply.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("req-" + code, reply.GetProperty("context").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task GetDecision_Hit_AnswersTheStoredReply_OverNatsAndHttp()
    {
        var decided = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, Decide, Fixture("decide_full.json")));
        var stored = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, GetDecision, Fixture("get_decision.json")));

        Assert.True(JsonElement.DeepEquals(decided, stored), $"{decided}\n{stored}");
        var (status, http) = await HttpGetAsync("msg-full-1", GatewayFixture.KeyA);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(JsonElement.DeepEquals(decided, http), $"{decided}\n{http}");
    }

    [Fact]
    public async Task GetDecision_Miss_IsNotFound()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, GetDecision, """{"message_id":"never-decided"}"""));

        Assert.False(reply.GetProperty("ok").GetBoolean());
        Assert.Equal("not_found", reply.GetProperty("error").GetProperty("code").GetString());
        var (status, _) = await HttpGetAsync("never-decided", GatewayFixture.KeyA);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task GetDecision_Expired_IsNotFound()
    {
        var request = Fixture("decide_full.json").Replace("msg-full-1", "msg-expiring", StringComparison.Ordinal);
        Assert.True(Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, Decide, request)).GetProperty("ok").GetBoolean());

        await Task.Delay(TimeSpan.FromSeconds(GatewayFixture.TtlSeconds + 1));

        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, GetDecision, """{"message_id":"msg-expiring"}"""));
        Assert.Equal("not_found", reply.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task GetDecision_AnotherTenantsMessageId_IsNotFound_OverHttpAndNats()
    {
        var request = Fixture("decide_full.json").Replace("msg-full-1", "msg-of-tenant-a", StringComparison.Ordinal);
        Assert.True(Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, Decide, request)).GetProperty("ok").GetBoolean());

        var (status, body) = await HttpGetAsync("msg-of-tenant-a", GatewayFixture.KeyB);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", body.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("echo_cpu", body.GetRawText(), StringComparison.Ordinal);
        var nats = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, GetDecision, """{"message_id":"msg-of-tenant-a","tenant_id":"tenant_b"}"""));
        Assert.Equal("not_found", nats.GetProperty("error").GetProperty("code").GetString());
        (status, _) = await HttpGetAsync("msg-of-tenant-a", GatewayFixture.KeyA);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task GetDecision_MalformedRequest_IsInvalidRequest()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, GetDecision, """{"id":"x"}"""));
        Assert.Equal("invalid_request", reply.GetProperty("error").GetProperty("code").GetString());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> HttpGetAsync(string messageId, string key)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(host.Process.BaseAddress, $"api/v1/routes/decide/{Uri.EscapeDataString(messageId)}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}

/// <summary>nats-server and a control plane with tenant_abc123 (the gateway's examples) and tenant_b.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public const string KeyA = "bl_gwa_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
    public const string KeyB = "bl_gwb_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
    public const int TtlSeconds = 3;
    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-gateway-{Guid.NewGuid():N}.json");

    public NatsServer Nats { get; private set; } = null!;

    public ControlPlaneProcess Process { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        await Nats.DisposeAsync();
        File.Delete(_configFile);
    }

    private static JsonObject Tenant(string id, string key) => new()
    {
        ["id"] = id,
        ["default_policy"] = "default",
        ["limits"] = new JsonObject { ["allowed_providers"] = new JsonArray("echo_cpu") },
        ["keys"] = new JsonArray(new JsonObject { ["name"] = "key", ["key"] = key }),
        ["policies"] = new JsonArray(
            new JsonObject { ["id"] = "default", ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"echo_cpu","weight":100}]}""") },
            new JsonObject { ["id"] = "forbidden", ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"other","weight":100}]}""") }),
    };

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Decisions"] = new JsonObject { ["TtlSeconds"] = TtlSeconds },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(Tenant("tenant_abc123", KeyA), Tenant("tenant_b", KeyB)),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"other","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}
