using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// The router admin views as an operator uses them: two real <c>beamline serve</c> processes on one
/// nats-server, asked over NATS (request-reply from Beamline's own client) and over HTTP with and
/// without the admin key.
/// </summary>
public sealed class RouterAdminEndToEndTests(RouterAdminHostsFixture hosts) : IClassFixture<RouterAdminHostsFixture>, IAsyncLifetime
{
    private const string Prefix = "beamline.router.v1.admin.";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly ControlPlaneProcess _first = hosts.First;
    private NatsTestClient _nats = null!;

    public async Task InitializeAsync()
    {
        _nats = await NatsTestClient.ConnectAsync(hosts.Nats.Url);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _nats.DisposeAsync();
    }

    [Fact]
    public async Task DryRun_OverNats_DecidesAndSaysNoExtensionRan()
    {
        var reply = await RequestAsync("dry_run_pipeline",
            """{"tenant_id":"tenant_abc123","policy_id":"extensions_full","payload":{"text":"hello"}}""");

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("instance_id").GetString()));
        var result = reply.GetProperty("result");
        Assert.Contains(result.GetProperty("decision").GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
        Assert.Equal("weighted", result.GetProperty("decision").GetProperty("reason").GetString());
        Assert.Equal(50, result.GetProperty("decision").GetProperty("priority").GetInt32());
        Assert.Empty(result.GetProperty("executed_extensions").EnumerateArray());
        Assert.False(result.GetProperty("extensions_run").GetBoolean());
        var planned = result.GetProperty("planned_extensions");
        Assert.Equal(new[] { "normalize_text", "add_context" }, Ids(planned.GetProperty("pre")));
        Assert.Equal(new[] { "pii_guard", "content_filter", "rate_limit_check" }, Ids(planned.GetProperty("validators")));
        Assert.Equal(new[] { "mask_pii", "format_response" }, Ids(planned.GetProperty("post")));
        Assert.Equal("warn", planned.GetProperty("validators")[1].GetProperty("on_fail").GetString());
        Assert.Equal("hello", result.GetProperty("final_payload").GetProperty("text").GetString());
    }

    [Fact]
    public async Task DryRun_WithSessionKey_LeavesNoStickySession()
    {
        const string DryRun = """
            {"tenant_id":"tenant_abc123","policy_id":"sticky_weights","payload":"hi","context":{"user_id":"dry-run-user"}}
            """;
        for (var i = 0; i < 5; i++)
        {
            var (status, http) = await AdminAsync(HttpMethod.Post, "admin/v1/dry-run", DryRun);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("weighted", http.GetProperty("result").GetProperty("decision").GetProperty("reason").GetString());
        }
        Assert.True((await RequestAsync("dry_run_pipeline", DryRun)).GetProperty("ok").GetBoolean());

        // Had a dry run stored a session, the first real decide would already be "sticky".
        var first = await DecideAsync("sticky_weights", "dry-run-user");
        var second = await DecideAsync("sticky_weights", "dry-run-user");
        Assert.Equal("weighted", first.GetProperty("reason").GetString());
        Assert.Equal("sticky", second.GetProperty("reason").GetString());
        Assert.Equal(first.GetProperty("provider_id").GetString(), second.GetProperty("provider_id").GetString());

        // A dry run reads the session a real request stored.
        var (_, after) = await AdminAsync(HttpMethod.Post, "admin/v1/dry-run", DryRun);
        Assert.Equal("sticky", after.GetProperty("result").GetProperty("decision").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task DryRun_UnknownPolicyOrOtherTenantsPolicy_ReturnsPolicyNotFound()
    {
        var nats = await RequestAsync("dry_run_pipeline", """{"tenant_id":"tenant_abc123","policy_id":"no_such_policy","payload":{}}""");
        var (status, http) = await AdminAsync(HttpMethod.Post, "admin/v1/dry-run",
            """{"tenant_id":"tenant_b","policy_id":"extensions_full","payload":{}}""");

        AssertError(nats, "policy_not_found", "policy_id");
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(http, "policy_not_found", "policy_id");
    }

    [Theory]
    [InlineData("{oops", null)]
    [InlineData("[1]", null)]
    [InlineData("""{"policy_id":"default","payload":{}}""", "tenant_id")]
    [InlineData("""{"tenant_id":"tenant_abc123","payload":{}}""", "policy_id")]
    [InlineData("""{"tenant_id":"tenant_abc123","policy_id":"default"}""", "payload")]
    [InlineData("""{"tenant_id":7,"policy_id":"default","payload":{}}""", "tenant_id")]
    [InlineData("""{"tenant_id":"tenant_abc123","policy_id":"default","payload":{},"context":[]}""", "context")]
    [InlineData("""{"tenant_id":"tenant_abc123","policy_id":"default","payload":{},"constraints":{"max_cost":-1}}""", "constraints.max_cost")]
    public async Task DryRun_MalformedRequest_ReturnsInvalidRequestNamingTheField(string body, string? field)
    {
        var nats = await RequestAsync("dry_run_pipeline", body);
        var (status, http) = await AdminAsync(HttpMethod.Post, "admin/v1/dry-run", body);

        AssertError(nats, "invalid_request", field);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(http, "invalid_request", field);
    }

    [Fact]
    public async Task Complexity_OverNatsAndHttp_ScoresThePolicyPipeline()
    {
        var nats = await RequestAsync("get_pipeline_complexity", """{"tenant_id":"tenant_abc123","policy_id":"extensions_full"}""");
        var (status, http) = await AdminAsync(HttpMethod.Get, "admin/v1/policies/tenant_abc123/extensions_full/complexity");

        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var reply in new[] { nats, http })
        {
            Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
            Assert.Equal(7, reply.GetProperty("total_extensions").GetInt32());
            Assert.Equal(2, reply.GetProperty("pre_count").GetInt32());
            Assert.Equal(3, reply.GetProperty("validators_count").GetInt32());
            Assert.Equal(2, reply.GetProperty("post_count").GetInt32());
            Assert.Equal(92, reply.GetProperty("complexity_score").GetInt32()); // 60 + 15 over the total, + 5 validators, + 12 excess
            Assert.Equal("very_high", reply.GetProperty("complexity_level").GetString());
            Assert.Equal(210, reply.GetProperty("estimated_latency_ms").GetInt32());
            Assert.Equal(4, reply.GetProperty("recommended_limits").GetProperty("max_total").GetInt32());
            Assert.Equal(3, reply.GetProperty("warnings").GetArrayLength()); // total, validators, latency
            Assert.Equal(2, reply.GetProperty("recommendations").GetArrayLength());
        }
        var plain = await RequestAsync("get_pipeline_complexity", """{"tenant_id":"tenant_abc123","policy_id":"default"}""");
        Assert.Equal(0, plain.GetProperty("complexity_score").GetInt32());
        Assert.Equal("low", plain.GetProperty("complexity_level").GetString());
        Assert.Empty(plain.GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task Complexity_UnknownPolicyOrMissingField_ReturnsCp1Errors()
    {
        var (status, otherTenant) = await AdminAsync(HttpMethod.Get, "admin/v1/policies/tenant_b/extensions_full/complexity");
        var missing = await RequestAsync("get_pipeline_complexity", """{"tenant_id":"tenant_abc123"}""");
        var malformed = await RequestAsync("get_pipeline_complexity", "{oops");

        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(otherTenant, "policy_not_found", "policy_id");
        AssertError(missing, "invalid_request", "policy_id");
        AssertError(malformed, "invalid_request", null);
    }

    [Fact]
    public async Task ExtensionHealth_ListsTheExtensionsPoliciesName_WithTheirSourceAndMeasuredCalls()
    {
        // A decide with the fixture policy runs its pre and validator steps (built-ins here) on
        // the first control plane; health is per instance, so it is read there over HTTP (over
        // NATS either instance of the queue group may answer).
        await DecideAsync("extensions_full", "health-user");
        var nats = await RequestAsync("get_extension_health", """{"tenant_id":"tenant_abc123"}""");
        var (_, first) = await AdminAsync(HttpMethod.Get, "admin/v1/extensions/health?tenant_id=tenant_abc123");
        var (status, http) = await AdminAsync(HttpMethod.Get, "admin/v1/extensions/health");

        Assert.True(nats.GetProperty("extensions_run").GetBoolean());
        Assert.Equal(nats.GetProperty("health").EnumerateObject().Select(p => p.Name), first.GetProperty("health").EnumerateObject().Select(p => p.Name));
        var health = first.GetProperty("health");
        Assert.Equal(new[] { "add_context", "content_filter", "format_response", "mask_pii", "normalize_text", "pii_guard", "rate_limit_check" },
            health.EnumerateObject().Select(p => p.Name).ToArray());
        var guard = health.GetProperty("pii_guard");
        Assert.Equal("builtin", guard.GetProperty("source").GetString());
        Assert.Equal("validator", guard.GetProperty("type").GetString());
        Assert.Equal("healthy", guard.GetProperty("status").GetString());
        Assert.True(guard.GetProperty("success_count").GetInt32() >= 1);
        Assert.Equal(1.0, guard.GetProperty("success_rate").GetDouble());
        Assert.Equal("closed", guard.GetProperty("breaker").GetString());
        Assert.Equal("extensions_full", Assert.Single(guard.GetProperty("referenced_by").EnumerateArray()).GetProperty("policy_id").GetString());
        // Named by the policy, but neither registered nor built in.
        var unknown = health.GetProperty("format_response");
        Assert.Equal("unregistered", unknown.GetProperty("status").GetString());
        Assert.Equal(0, unknown.GetProperty("calls").GetInt32());
        Assert.Equal(JsonValueKind.Null, unknown.GetProperty("success_rate").ValueKind);

        Assert.Equal(HttpStatusCode.OK, status);
        var bGuard = http.GetProperty("health").GetProperty("b_guard");
        Assert.Equal("tenant_b", Assert.Single(bGuard.GetProperty("referenced_by").EnumerateArray()).GetProperty("tenant_id").GetString());
    }

    [Fact]
    public async Task ProviderStats_TenantFilter_ShowsOnlyThatTenantsProviders()
    {
        var (status, a) = await AdminAsync(HttpMethod.Get, "admin/v1/provider-stats?tenant_id=tenant_abc123");
        var b = await RequestAsync("get_provider_stats", """{"tenant_id":"tenant_b"}""");
        var all = await RequestAsync("get_provider_stats", "");

        Assert.Equal(HttpStatusCode.OK, status);
        var tenantA = Assert.Single(a.GetProperty("tenants").EnumerateArray());
        Assert.Equal("tenant_abc123", tenantA.GetProperty("tenant_id").GetString());
        // default.json falls back to local_llm; b_only is only tenant B's.
        Assert.Equal(new[] { "anthropic", "local_llm", "openai" }, tenantA.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("provider_id").GetString()!).ToArray());
        var openai = tenantA.GetProperty("providers")[2];
        Assert.Equal("openai", openai.GetProperty("kind").GetString());
        Assert.Equal("gpt-4o-mini", openai.GetProperty("model").GetString());
        Assert.Equal(0.15, openai.GetProperty("prices").GetProperty("input_per_mtok").GetDouble());
        Assert.Equal(0.6, openai.GetProperty("prices").GetProperty("output_per_mtok").GetDouble());
        Assert.Contains("extensions_full", openai.GetProperty("policies").EnumerateArray().Select(p => p.GetString()));
        var stats = openai.GetProperty("stats");
        Assert.Equal(0, stats.GetProperty("calls").GetInt64());
        Assert.Equal(0, stats.GetProperty("error_rate_ewma").GetDouble());
        Assert.True(stats.GetProperty("latency_ewma_ms").GetDouble() > 0);

        var tenantB = Assert.Single(b.GetProperty("tenants").EnumerateArray());
        Assert.Equal(new[] { "b_only", "local_llm" }, tenantB.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("provider_id").GetString()!).ToArray());
        Assert.Equal(2, all.GetProperty("tenants").GetArrayLength());
    }

    [Theory]
    [InlineData("get_extension_health")]
    [InlineData("get_provider_stats")]
    [InlineData("get_circuit_breaker_states")]
    public async Task TenantViews_MalformedFilter_ReplyInvalidRequest(string subject)
    {
        var malformed = await RequestAsync(subject, "{oops");
        var wrongType = await RequestAsync(subject, """{"tenant_id":42}""");

        AssertError(malformed, "invalid_request", null);
        AssertError(wrongType, "invalid_request", "tenant_id");
    }

    [Fact]
    public async Task AdminSubjects_HaveNoQueueGroup_EveryInstanceAnswers()
    {
        var replies = new List<string>();
        await foreach (var reply in _nats.Connection.RequestManyAsync<byte[], byte[]>(Prefix + "get_extension_health", "{}"u8.ToArray(),
            replyOpts: new NatsSubOpts { MaxMsgs = 2, Timeout = Wait }))
        {
            replies.Add(JsonDocument.Parse(reply.Data).RootElement.GetProperty("instance_id").GetString()!);
        }

        Assert.Equal(2, replies.Distinct().Count());
    }

    [Theory]
    [InlineData("GET", "admin/v1/circuit-breakers")]
    [InlineData("GET", "admin/v1/extensions/health")]
    [InlineData("GET", "admin/v1/provider-stats?tenant_id=tenant_abc123")]
    [InlineData("GET", "admin/v1/policies/tenant_abc123/default/complexity")]
    [InlineData("POST", "admin/v1/dry-run")]
    public async Task AdminViews_WithoutOrWithWrongAdminKey_Return401(string method, string path)
    {
        foreach (var key in new[] { null, "not-the-admin-key", RouterAdminHostsFixture.KeyA })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(_first.BaseAddress, path));
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            if (method == "POST")
            {
                request.Content = new StringContent("""{"tenant_id":"tenant_abc123","policy_id":"default","payload":{}}""", Encoding.UTF8, "application/json");
            }
            using var response = await _http.SendAsync(request);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            AssertError(body, "unauthorized", null);
        }
    }

    private static string[] Ids(JsonElement steps) => [.. steps.EnumerateArray().Select(s => s.GetProperty("id").GetString()!)];

    private static void AssertError(JsonElement reply, string code, string? field)
    {
        Assert.False(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("instance_id").GetString()));
        var error = reply.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (field is not null)
        {
            Assert.Equal(field, error.GetProperty("details").GetProperty("field").GetString());
            if (code == "invalid_request")
            {
                Assert.Contains(field, error.GetProperty("message").GetString(), StringComparison.Ordinal);
            }
        }
    }

    private async Task<JsonElement> RequestAsync(string subject, string json)
    {
        var reply = await _nats.RequestAsync(Prefix + subject, Encoding.UTF8.GetBytes(json), Wait);
        return JsonDocument.Parse(reply.Data).RootElement.Clone();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(_first.BaseAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", RouterAdminHostsFixture.AdminKey);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    // A real decide with tenant A's key on the first control plane; returns the decision.
    private async Task<JsonElement> DecideAsync(string policy, string user)
    {
        var body = new JsonObject
        {
            ["version"] = "1",
            ["tenant_id"] = "tenant_abc123",
            ["request_id"] = Guid.NewGuid().ToString(),
            ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hi" } },
            ["policy_id"] = policy,
            ["context"] = new JsonObject { ["user_id"] = user },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_first.BaseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", RouterAdminHostsFixture.KeyA);
        using var response = await _http.SendAsync(request);
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        return reply.GetProperty("decision");
    }
}

/// <summary>
/// A nats-server and two control planes on one two-tenant configuration: tenant A has the CP1
/// fixture policies (with extensions, sticky sessions and a breaker); tenant B has its own policy,
/// provider and validator, which tenant A's views must never show.
/// </summary>
public sealed class RouterAdminHostsFixture : IAsyncLifetime
{
    internal const string KeyA = "bl_tenanta_oSTjh5-HBoazfzCJBbNv4UIqdzWEqgSH6q4db6Ey5ok";
    internal const string KeyB = "bl_tenantb_y38SaTC9RXKDjVkoPS5WZUcrOC-KHZTHoutrgW9kYxo";
    internal const string AdminKey = "test-admin-key-0123456789";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-admin-{Guid.NewGuid():N}.json");

    public NatsServer Nats { get; private set; } = null!;

    public ControlPlaneProcess First { get; private set; } = null!;

    public ControlPlaneProcess Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        Nats = await NatsServer.StartAsync();
        First = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
        Second = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        foreach (var process in new IAsyncDisposable?[] { Second, First, Nats })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
        File.Delete(_configFile);
    }

    private static JsonObject PolicyFile(string id) => new() { ["id"] = id, ["file"] = Cp1Fixtures.Policy(id) };

    private static string Config() => new JsonObject
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
                        ["policies"] = new JsonArray(PolicyFile("default"), PolicyFile("extensions_full"),
                            PolicyFile("sticky_weights"), PolicyFile("circuit_breaker_basic")),
                    },
                    new JsonObject
                    {
                        ["id"] = "tenant_b",
                        ["default_policy"] = "default",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = KeyB }),
                        ["policies"] = new JsonArray(new JsonObject
                        {
                            ["id"] = "default",
                            ["json"] = JsonNode.Parse("""
                                {"version":"1.0","providers":[{"name":"b_only","weight":100}],
                                 "fallbacks":[{"when":{"status":["timeout"]},"to":"local_llm"}],
                                 "validators":[{"id":"b_guard","on_fail":"block"}]}
                                """),
                        }),
                    }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"openai","kind":"openai","model":"gpt-4o-mini","prices":{"input_per_mtok":0.15,"output_per_mtok":0.6}}"""),
                    JsonNode.Parse("""{"id":"anthropic","kind":"anthropic","prices":{"input_per_mtok":0.8,"output_per_mtok":4}}"""),
                    JsonNode.Parse("""{"id":"local_llm","kind":"openai_compatible","base_url":"http://127.0.0.1:1/v1"}"""),
                    JsonNode.Parse("""{"id":"b_only","kind":"openai_compatible","base_url":"http://127.0.0.1:2/v1"}""")),
            },
        },
    }.ToJsonString();
}
