using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// The distributed path with extensions that are NATS services: a real nats-server, the node
/// extension services of <see cref="NodeExtensionServices"/> (npm <c>nats</c>), a
/// <c>beamline-worker</c> for the <c>echo</c> block provider, and a <c>beamline serve --nats</c>
/// whose <c>Beamline:Extensions:Directory</c> holds copies of the upstream CP1 entry files and one
/// file per extension of the tests here (<see cref="Entries"/>).
/// </summary>
public sealed class ExtensionsOverNatsFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_ext_nats";
    internal const string Key = "bl_extnats_Hq3vX9kLmN2pR7sT1wYz4bC6dF8gJ0aE5uI3oK7nM2q";
    internal const string AdminKey = "test-admin-key-0123456789";

    /// <summary>What the node services answer, at each stage; <c>dead</c> is served by no one.</summary>
    private static readonly string[] Behaviours = ["echo-rewrite", "inspect", "reject", "slow", "malformed-text", "malformed-array"];

    /// <summary>Registry entries: id → (type, behaviour, timeout_ms). A slow step gets a small timeout, every other a generous one.</summary>
    internal static readonly Dictionary<string, (string Type, string Behaviour, int TimeoutMs)> Entries = new(StringComparer.Ordinal)
    {
        ["ext_pre_rewrite"] = ("pre", "echo-rewrite", 5_000),
        ["ext_pre_dead"] = ("pre", "dead", 5_000),
        ["ext_pre_dead_optional"] = ("pre", "dead", 5_000),
        ["ext_pre_slow"] = ("pre", "slow", 300),
        ["ext_pre_slow_optional"] = ("pre", "slow", 300),
        ["ext_pre_malformed"] = ("pre", "malformed-text", 5_000),
        ["ext_pre_array"] = ("pre", "malformed-array", 5_000),
        ["ext_val_reject"] = ("validator", "reject", 5_000),
        ["ext_val_ok"] = ("validator", "echo-rewrite", 5_000),
        ["ext_post_rewrite"] = ("post", "echo-rewrite", 5_000),
        ["ext_post_inspect"] = ("post", "inspect", 5_000),
        ["ext_post_dead"] = ("post", "dead", 5_000),
        ["ext_post_malformed"] = ("post", "malformed-text", 5_000),
        ["ext_post_dead_optional"] = ("post", "dead", 5_000),
        ["ext_post_malformed_optional"] = ("post", "malformed-array", 5_000),
        ["act_pre"] = ("pre", "echo-rewrite", 5_000),
        ["act_val"] = ("validator", "echo-rewrite", 5_000),
        ["act_post"] = ("post", "inspect", 5_000),
        ["act_pre_dead"] = ("pre", "dead", 5_000),
        ["act_pre_slow"] = ("pre", "slow", 300),
        ["act_pre_malformed"] = ("pre", "malformed-text", 5_000),
        ["act_val_reject"] = ("validator", "reject", 5_000),
        ["health_pre"] = ("pre", "echo-rewrite", 5_000),
        ["health_slow_validator"] = ("validator", "slow", 300),
        ["health_post_dead"] = ("post", "dead", 5_000),
        ["breaker_dead"] = ("pre", "dead", 5_000),
    };

    private readonly string _root = Directory.CreateTempSubdirectory("beamline-ext-nats-").FullName;
    private ChildProcess? _node;

    public NatsServer Nats { get; private set; } = null!;

    public WorkerProcess Worker { get; private set; } = null!;

    public ControlPlaneProcess Server { get; private set; } = null!;

    public string ExtensionsDirectory => Path.Combine(_root, "extensions");

    /// <summary>The subject of <paramref name="behaviour"/> for an entry of <paramref name="type"/>.</summary>
    internal static string Subject(string type, string behaviour) =>
        NodeExtensionServices.Subject(type switch { "validator" => "validate", _ => type }, behaviour);

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        var specs = new List<string>();
        foreach (var stage in new[] { "pre", "validate", "post" })
        {
            foreach (var behaviour in Behaviours)
            {
                specs.Add($"{NodeExtensionServices.Subject(stage, behaviour)}={behaviour}");
            }
        }
        _node = await NodeExtensionServices.StartAsync(Nats.Url, specs);
        Worker = await WorkerProcess.StartAsync(Nats.Url, WorkerProcess.NewId("ext-nats"), ["cpu=2"]);

        Directory.CreateDirectory(ExtensionsDirectory);
        foreach (var file in Directory.GetFiles(Path.Combine(Cp1Fixtures.Root, "extensions"), "*.json"))
        {
            File.Copy(file, Path.Combine(ExtensionsDirectory, Path.GetFileName(file)));
        }
        foreach (var (id, (type, behaviour, timeoutMs)) in Entries)
        {
            var entry = new JsonObject
            {
                ["id"] = id,
                ["type"] = type,
                ["subject"] = Subject(type, behaviour),
                ["timeout_ms"] = timeoutMs,
                ["retry"] = 0,
                ["enabled"] = true,
                // Registry config is for built-ins: a NATS service must never see it.
                ["config"] = new JsonObject { ["entry_secret"] = "entry-config-secret" },
                ["metadata"] = new JsonObject { ["description"] = $"node {behaviour}" },
            };
            await File.WriteAllTextAsync(Path.Combine(ExtensionsDirectory, id + ".json"), entry.ToJsonString());
        }
        var configFile = Path.Combine(_root, "beamline.json");
        await File.WriteAllTextAsync(configFile, Config());
        Server = await ControlPlaneProcess.StartAsync("--config", configFile, "--nats", Nats.Url);
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
        if (Worker is not null)
        {
            await Worker.DisposeAsync();
        }
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
        Directory.Delete(_root, recursive: true);
    }

    private static JsonObject Policy(string id, string? pre = null, string? validators = null, string? post = null) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""
            {"version":"1.0","providers":[{"name":"echo_cpu","weight":100}],
             "pre":[{{pre}}],"validators":[{{validators}}],"post":[{{post}}]}
            """),
    };

    private string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Extensions"] = new JsonObject
            {
                ["Directory"] = ExtensionsDirectory,
                ["ReloadDelay"] = "00:00:00.100",
            },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "plain",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(
                        Policy("plain"),
                        Policy("pre_rewrite", pre: """{"id":"ext_pre_rewrite","mode":"required"}"""),
                        Policy("pre_inspect",
                            pre: """{"id":"ext_pre_rewrite","mode":"required","config":{"policy_secret":"pre-policy-secret"}}""",
                            post: """{"id":"ext_post_inspect","mode":"required","config":{"policy_secret":"post-policy-secret"}}"""),
                        Policy("pre_optional_failing", pre: """
                            {"id":"ext_pre_dead_optional","mode":"optional"},{"id":"ext_pre_slow_optional","mode":"optional"},
                            {"id":"ext_pre_malformed","mode":"optional"},{"id":"ext_pre_array","mode":"optional"}
                            """),
                        Policy("pre_required_dead", pre: """{"id":"ext_pre_dead","mode":"required"}"""),
                        Policy("pre_required_slow", pre: """{"id":"ext_pre_slow","mode":"required"}"""),
                        Policy("validator_block", validators: """{"id":"ext_val_ok","on_fail":"block"},{"id":"ext_val_reject","on_fail":"block"}"""),
                        Policy("validator_warn", validators: """{"id":"ext_val_reject","on_fail":"warn"},{"id":"ext_val_ok","on_fail":"block"}"""),
                        Policy("validator_ignore", validators: """{"id":"ext_val_reject","on_fail":"ignore"}"""),
                        Policy("post_rewrite", post: """{"id":"ext_post_rewrite","mode":"required"}"""),
                        Policy("post_required_dead", post: """{"id":"ext_post_dead","mode":"required"}"""),
                        Policy("post_required_malformed", post: """{"id":"ext_post_malformed","mode":"required"}"""),
                        Policy("post_optional_failing", post: """
                            {"id":"ext_post_dead_optional","mode":"optional"},{"id":"ext_post_malformed_optional","mode":"optional"}
                            """),
                        Policy("unknown_pre_required", pre: """{"id":"nope_pre","mode":"required"}"""),
                        Policy("unknown_validator_block", validators: """{"id":"nope_block","on_fail":"block"}"""),
                        Policy("unknown_post_required", post: """{"id":"nope_post","mode":"required"}"""),
                        Policy("unknown_optional",
                            pre: """{"id":"nope_pre","mode":"optional"}""",
                            validators: """{"id":"nope_warn","on_fail":"warn"},{"id":"nope_ignore","on_fail":"ignore"}""",
                            post: """{"id":"nope_post","mode":"optional"}"""),
                        Policy("late", validators: """{"id":"late_guard","on_fail":"block"}"""),
                        Policy("fixture_entries", validators: """{"id":"pii_guard","on_fail":"warn"}"""),
                        Policy("activity",
                            pre: """{"id":"act_pre","mode":"required"}""",
                            validators: """{"id":"act_val","on_fail":"block"}""",
                            post: """{"id":"act_post","mode":"required"}"""),
                        Policy("activity_failing",
                            pre: """{"id":"act_pre_dead","mode":"optional"},{"id":"act_pre_slow","mode":"optional"},{"id":"act_pre_malformed","mode":"optional"}""",
                            validators: """{"id":"act_val_reject","on_fail":"warn"}"""),
                        Policy("activity_blocked", validators: """{"id":"act_val_reject","on_fail":"block"}"""),
                        Policy("health",
                            pre: """{"id":"health_pre","mode":"required"}""",
                            validators: """{"id":"health_slow_validator","on_fail":"warn"}""",
                            post: """{"id":"health_post_dead","mode":"optional"}"""),
                        Policy("breaker", pre: """{"id":"breaker_dead","mode":"optional"}""")),
                }),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}

[CollectionDefinition(Name)]
public sealed class ExtensionsOverNatsCollection : ICollectionFixture<ExtensionsOverNatsFixture>
{
    public const string Name = "extensions over nats";
}

/// <summary>CP1 decide and execute as a client sends them, over HTTP (API key) and over NATS (npm <c>nats</c>).</summary>
internal sealed class Cp1Client(ControlPlaneProcess server, string tenant, string key, string? natsUrl = null) : IDisposable
{
    internal const string DecideSubject = "beamline.router.v1.decide";
    internal const string ExecuteSubject = "beamline.router.v1.execute";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    public string Request(string policy, string payloadJson, string? requestId = null) => new JsonObject
    {
        ["version"] = "1",
        ["tenant_id"] = tenant,
        ["request_id"] = requestId ?? $"req-{policy}-{Guid.NewGuid():N}",
        ["trace_id"] = "trace-ext",
        ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = JsonNode.Parse(payloadJson) },
        ["policy_id"] = policy,
    }.ToJsonString();

    public Task<(HttpStatusCode Status, JsonElement Body)> DecideAsync(string policy, string payloadJson, string? requestId = null) =>
        PostAsync("api/v1/routes/decide", Request(policy, payloadJson, requestId));

    /// <summary>A decide of a request the caller wrote.</summary>
    public Task<(HttpStatusCode Status, JsonElement Body)> DecideAsync(string json) => PostAsync("api/v1/routes/decide", json);

    public Task<(HttpStatusCode Status, JsonElement Body)> ExecuteAsync(string policy, string payloadJson, string? requestId = null) =>
        PostAsync("v1/execute", Request(policy, payloadJson, requestId));

    public Task<JsonElement> DecideOverNatsAsync(string policy, string payloadJson) => OverNatsAsync(DecideSubject, policy, payloadJson);

    public Task<JsonElement> ExecuteOverNatsAsync(string policy, string payloadJson) => OverNatsAsync(ExecuteSubject, policy, payloadJson);

    public async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(HttpMethod method, string path, string adminKey, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private async Task<JsonElement> OverNatsAsync(string subject, string policy, string payloadJson)
    {
        var url = natsUrl ?? throw new InvalidOperationException("this client has no NATS server");
        return Assert.Single(await Routing.NodeNatsClient.RequestAsync(url, subject, Request(policy, payloadJson)));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await _http.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>An execute reply's output (base64 in <c>result.output</c>) as text.</summary>
    public static string Output(JsonElement body)
    {
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        return Encoding.UTF8.GetString(body.GetProperty("result").GetProperty("output").GetBytesFromBase64());
    }

    /// <summary>A failed reply's error, after checking its code.</summary>
    public static JsonElement Error(JsonElement body, string code)
    {
        Assert.False(body.GetProperty("ok").GetBoolean(), body.ToString());
        var error = body.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    /// <summary>A decision's metadata value, or null when it has none under <paramref name="key"/>.</summary>
    public static string? DecisionMetadata(JsonElement body, string key)
    {
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        return body.GetProperty("decision").TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty(key, out var value)
            ? value.GetString()
            : null;
    }
}
