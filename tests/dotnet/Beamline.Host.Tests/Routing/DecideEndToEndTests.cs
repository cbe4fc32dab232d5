using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// CP1 decide as clients use it: real <c>beamline serve</c> processes with tenancy loaded from a
/// configuration file, a real HTTP client, a real nats-server and the official nats npm client.
/// </summary>
public sealed class DecideEndToEndTests(DecideHostsFixture hosts) : IClassFixture<DecideHostsFixture>, IDisposable
{
    private const string DemoKey = "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
    private const string DecideSubject = "beamline.router.v1.decide";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly NatsServer _nats = hosts.Nats;
    private readonly ControlPlaneProcess _demo = hosts.Demo;
    private readonly ControlPlaneProcess _first = hosts.First;
    private readonly ControlPlaneProcess _second = hosts.Second;

    private static string KeyA => DecideHostsFixture.KeyA;

    private static string KeyB => DecideHostsFixture.KeyB;

    private static string AdminKey => DecideHostsFixture.AdminKey;

    public void Dispose() => _http.Dispose();

    [Theory]
    [InlineData("decide_request_task_form.json")]
    [InlineData("route_request_message_form.json")]
    public async Task Decide_SharedFixtureWithDemoKey_ReturnsDecision(string fixture)
    {
        var (status, body) = await DecideAsync(_demo, Encoding.UTF8.GetString(Cp1Fixtures.Request(fixture)), DemoKey);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean());
        var decision = body.GetProperty("decision");
        Assert.Contains(decision.GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
        Assert.Equal("default", decision.GetProperty("policy_id").GetString());
        Assert.Equal("trace_abc123", body.GetProperty("context").GetProperty("trace_id").GetString());
    }

    [Fact]
    public async Task Decide_XApiKeyHeader_IsAccepted()
    {
        using var request = DecideRequest(_demo, TaskForm());
        request.Headers.Add("X-API-Key", DemoKey);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("bl_demo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("not-a-key")]
    public async Task Decide_MissingOrWrongKey_Returns401Unauthorized(string? key)
    {
        var (status, body) = await DecideAsync(_demo, TaskForm(), key);
        AssertError(status, body, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task Decide_KeyOfTenantAForTenantB_Returns403Denied()
    {
        var (status, body) = await DecideAsync(_first, TaskForm(tenant: "tenant_b"), KeyA);
        AssertError(status, body, HttpStatusCode.Forbidden, "denied");
        Assert.Equal("tenant_id", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    [Fact]
    public async Task Decide_EachTenantDecidesWithItsOwnPolicy()
    {
        var (statusA, a) = await DecideAsync(_first, TaskForm(), KeyA);
        var (statusB, b) = await DecideAsync(_first, TaskForm(tenant: "tenant_b"), KeyB);

        Assert.Equal(HttpStatusCode.OK, statusA);
        Assert.Equal(HttpStatusCode.OK, statusB);
        Assert.Contains(a.GetProperty("decision").GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
        Assert.Equal("local_llm", b.GetProperty("decision").GetProperty("provider_id").GetString());
    }

    [Fact]
    public async Task Decide_UnknownPolicy_Returns404PolicyNotFound()
    {
        var (status, body) = await DecideAsync(_demo, TaskForm(policy: "no_such_policy"), DemoKey);
        AssertError(status, body, HttpStatusCode.NotFound, "policy_not_found");
    }

    [Theory]
    [InlineData("{\"version\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"version\":\"1\",\"tenant_id\":\"tenant_abc123\"}")]
    public async Task Decide_MalformedRequest_Returns400InvalidRequest(string json)
    {
        var (status, body) = await DecideAsync(_demo, json, DemoKey);
        AssertError(status, body, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Decide_OverSizeLimit_IsRefusedBeforeParsing()
    {
        var (status, body) = await DecideAsync(_demo, new string(' ', 2 * 1024 * 1024), DemoKey);
        AssertError(status, body, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal("request_too_large", body.GetProperty("error").GetProperty("details").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Decide_PushAssignmentWithoutNats_SaysNotPublished()
    {
        var (status, body) = await DecideAsync(_demo, TaskForm(pushAssignment: true), DemoKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("not_published", body.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString());
    }

    [Fact]
    public async Task DecideOverNats_NodeClient_ReceivesCp1Reply()
    {
        var replies = await NodeNatsClient.RequestAsync(_nats.Url, DecideSubject, Encoding.UTF8.GetString(Cp1Fixtures.Request("decide_request_task_form.json")));

        var reply = Assert.Single(replies);
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Contains(reply.GetProperty("decision").GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
        Assert.Equal("7f3c2a9e-4b1d-4c55-9a8e-2f0c1d3b5a71", reply.GetProperty("context").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task DecideOverNats_UnknownTenantOrBadJson_ReplyCp1Errors()
    {
        var unknown = Assert.Single(await NodeNatsClient.RequestAsync(_nats.Url, DecideSubject, TaskForm(tenant: "tenant_nobody")));
        var malformed = Assert.Single(await NodeNatsClient.RequestAsync(_nats.Url, DecideSubject, "{oops"));

        Assert.Equal("unauthorized", unknown.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("invalid_request", malformed.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task DecideOverNats_PushAssignment_IsPublished()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(_nats.Url, DecideSubject, TaskForm(pushAssignment: true)));
        Assert.Equal("published", reply.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString());
    }

    [Fact]
    public async Task DecideOverNats_TwoControlPlanesInOneQueueGroup_BothServe()
    {
        var replies = await NodeNatsClient.RequestAsync(_nats.Url, DecideSubject, TaskForm(), count: 200);

        Assert.Equal(200, replies.Length);
        Assert.All(replies, reply => Assert.True(reply.GetProperty("ok").GetBoolean()));
        var instances = replies.Select(reply => reply.GetProperty("decision").GetProperty("metadata").GetProperty("instance_id").GetString()).ToHashSet();
        Assert.Equal(2, instances.Count);
        Assert.Contains(instances, id => id!.EndsWith($"-{_first.Process.Id}", StringComparison.Ordinal));
        Assert.Contains(instances, id => id!.EndsWith($"-{_second.Process.Id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CircuitBreakers_AdminHttpAndNats_ListPolicyBreakers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_first.BaseAddress, "admin/v1/circuit-breakers"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await _http.SendAsync(request);
        var http = await response.Content.ReadFromJsonAsync<JsonElement>();
        var nats = await NodeNatsClient.RequestAsync(_nats.Url, "beamline.router.v1.admin.get_circuit_breaker_states", "{\"tenant_id\":\"tenant_abc123\"}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var breakers = http.GetProperty("breakers").EnumerateArray().ToList();
        Assert.Contains(breakers, b => b.GetProperty("policy_id").GetString() == "circuit_breaker_basic"
            && b.GetProperty("state").GetString() == "closed");
        Assert.True(nats[0].GetProperty("ok").GetBoolean());
        Assert.All(nats[0].GetProperty("breakers").EnumerateArray(), b => Assert.Equal("tenant_abc123", b.GetProperty("tenant_id").GetString()));
    }

    [Fact]
    public async Task CircuitBreakers_WithoutAdminKey_Returns401()
    {
        using var response = await _http.GetAsync(new Uri(_first.BaseAddress, "admin/v1/circuit-breakers"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static void AssertError(HttpStatusCode status, JsonElement body, HttpStatusCode expectedStatus, string expectedCode)
    {
        Assert.Equal(expectedStatus, status);
        Assert.False(body.GetProperty("ok").GetBoolean());
        Assert.Equal(expectedCode, body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Object, body.GetProperty("error").GetProperty("details").ValueKind);
    }

    private HttpRequestMessage DecideRequest(ControlPlaneProcess host, string json) => new(HttpMethod.Post, new Uri(host.BaseAddress, "api/v1/routes/decide"))
    {
        Content = new StringContent(json, Encoding.UTF8, "application/json"),
    };

    private async Task<(HttpStatusCode Status, JsonElement Body)> DecideAsync(ControlPlaneProcess host, string json, string? key)
    {
        using var request = DecideRequest(host, json);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await _http.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string TaskForm(string tenant = "tenant_abc123", string? policy = null, bool pushAssignment = false)
    {
        var request = JsonNode.Parse(Cp1Fixtures.Request("decide_request_task_form.json"))!.AsObject();
        request["tenant_id"] = tenant;
        request.Remove("policy_id");
        if (policy is not null)
        {
            request["policy_id"] = policy;
        }
        if (pushAssignment)
        {
            request["push_assignment"] = true;
        }
        return request.ToJsonString();
    }
}

/// <summary>
/// The processes the decide tests share: a nats-server, one control plane on the example
/// configuration (demo key, no NATS), and two on a two-tenant configuration in one NATS queue group.
/// </summary>
public sealed class DecideHostsFixture : IAsyncLifetime
{
    internal const string KeyA = "bl_tenanta_oSTjh5-HBoazfzCJBbNv4UIqdzWEqgSH6q4db6Ey5ok";
    internal const string KeyB = "bl_tenantb_y38SaTC9RXKDjVkoPS5WZUcrOC-KHZTHoutrgW9kYxo";
    internal const string AdminKey = "test-admin-key-0123456789";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-decide-{Guid.NewGuid():N}.json");

    public NatsServer Nats { get; private set; } = null!;

    public ControlPlaneProcess Demo { get; private set; } = null!;

    public ControlPlaneProcess First { get; private set; } = null!;

    public ControlPlaneProcess Second { get; private set; } = null!;

    private static string ExampleConfig => Path.Combine(RepoPaths.Root, "control", "src", "Beamline.Cli", "examples", "beamline.example.json");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, TwoTenantConfig());
        Nats = await NatsServer.StartAsync();
        Demo = await ControlPlaneProcess.StartAsync("--config", ExampleConfig);
        First = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
        Second = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        foreach (var process in new IAsyncDisposable?[] { Second, First, Demo, Nats })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        File.Delete(_configFile);
    }

    // Tenant A has the CP1 default and circuit-breaker policies; tenant B has its own "default",
    // which routes to local_llm only, so a decision shows whose policy was used.
    private static string TwoTenantConfig() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = "tenant_abc123",
                        ["default_policy"] = "default",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = KeyA }),
                        ["policies"] = new JsonArray(
                            new JsonObject { ["id"] = "default", ["file"] = Cp1Fixtures.Policy("default") },
                            new JsonObject { ["id"] = "circuit_breaker_basic", ["file"] = Cp1Fixtures.Policy("circuit_breaker_basic") }),
                    },
                    new JsonObject
                    {
                        ["id"] = "tenant_b",
                        ["default_policy"] = "default",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = KeyB }),
                        ["policies"] = new JsonArray(new JsonObject
                        {
                            ["id"] = "default",
                            ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"local_llm","weight":100}]}"""),
                        }),
                    }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"openai","kind":"openai","prices":{"input_per_mtok":0.15,"output_per_mtok":0.6}}"""),
                    JsonNode.Parse("""{"id":"anthropic","kind":"anthropic","prices":{"input_per_mtok":0.8,"output_per_mtok":4}}"""),
                    JsonNode.Parse("""{"id":"local_llm","kind":"openai","prices":{"input_per_mtok":0,"output_per_mtok":0}}""")),
            },
        },
    }.ToJsonString();
}
