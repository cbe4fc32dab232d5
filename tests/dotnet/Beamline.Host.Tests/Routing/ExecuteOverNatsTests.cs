using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// Route, then execute over NATS (<c>beamline.router.v1.execute</c>), the distributed path end to
/// end: a NATS client that no one here wrote (npm <c>nats</c>) → a real nats-server → a real
/// <c>beamline serve</c> → the chosen provider's block over NATS → a real <c>beamline-worker</c>.
/// </summary>
public sealed class ExecuteOverNatsTests(ExecuteOverNatsFixture host) : IClassFixture<ExecuteOverNatsFixture>
{
    private const string ExecuteSubject = "beamline.router.v1.execute";

    [Fact]
    public async Task ExecuteOverNats_BlockProvider_RunsOnTheWorker()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("direct", """{"q":"over nats"}""")));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        Assert.Equal("""{"q":"over nats"}""", Output(reply));
        Assert.Equal("echo_cpu", reply.GetProperty("route").GetProperty("provider_id").GetString());
        Assert.Equal("req-direct", reply.GetProperty("context").GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task ExecuteOverNats_FailingProvider_FallsBackAndListsEveryAttempt()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("blocks", """{"n":1}""")));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        var attempts = reply.GetProperty("route").GetProperty("attempts").EnumerateArray()
            .Select(a => $"{a.GetProperty("provider_id").GetString()}:{a.GetProperty("reason").GetString()}:{a.GetProperty("status").GetString()}")
            .ToArray();
        Assert.Equal(["broken:weighted:error", "echo_cpu:fallback:ok"], attempts);
    }

    [Fact]
    public async Task ExecuteOverNats_ManyAtOnce_EachGetsItsOwnOutput()
    {
        // 50 identical requests in flight: every reply is a success with the request's payload.
        var replies = await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("direct", """{"many":true}"""), count: 50);

        Assert.Equal(50, replies.Length);
        Assert.All(replies, reply => Assert.Equal("""{"many":true}""", Output(reply)));
    }

    [Fact]
    public async Task Execute_NatsProvider_IsCalledWithTheCp1ProviderRequest()
    {
        var reply = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("custom", """{"text":"shout"}""")));

        Assert.True(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        using var answer = JsonDocument.Parse(Output(reply));
        Assert.Equal("SHOUT", answer.RootElement.GetProperty("answer").GetString());
        Assert.Equal(ExecuteOverNatsFixture.Tenant, answer.RootElement.GetProperty("tenant_header").GetString());
        var sent = host.LastProviderRequest!.Value;
        Assert.Equal(ExecuteOverNatsFixture.Tenant, sent.GetProperty("tenant_id").GetString());
        Assert.Equal("req-custom", sent.GetProperty("request_id").GetString());
        Assert.Equal("custom", sent.GetProperty("provider_id").GetString());
        Assert.Equal("chat", sent.GetProperty("task_type").GetString());
    }

    [Fact]
    public async Task Execute_NatsProviderErrorOrNoResponders_FallsBack()
    {
        var failing = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("failing", """{"n":3}""")));
        var absent = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("absent", """{"n":4}""")));

        Assert.Equal(["failing:weighted:error:model_overloaded", "echo_cpu:fallback:ok:"], Attempts(failing));
        Assert.Equal(["absent:weighted:error:no_responders", "echo_cpu:fallback:ok:"], Attempts(absent));
        Assert.Equal("""{"n":4}""", Output(absent));
    }

    [Fact]
    public async Task ExecuteOverNats_BadRequests_ReplyCp1Errors()
    {
        var unknownTenant = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject,
            Request("direct", "{}", tenant: "tenant_nobody")));
        var malformed = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, "{oops"));
        var unknownPolicy = Assert.Single(await NodeNatsClient.RequestAsync(host.Nats.Url, ExecuteSubject, Request("nope", "{}")));

        Assert.Equal("unauthorized", Code(unknownTenant));
        Assert.Equal("invalid_request", Code(malformed));
        Assert.Equal("policy_not_found", Code(unknownPolicy));
    }

    private static string[] Attempts(JsonElement reply) => reply.GetProperty("route").GetProperty("attempts").EnumerateArray()
        .Select(a => $"{a.GetProperty("provider_id").GetString()}:{a.GetProperty("reason").GetString()}:{a.GetProperty("status").GetString()}:{(a.GetProperty("error_code").ValueKind == JsonValueKind.String ? a.GetProperty("error_code").GetString() : "")}")
        .ToArray();

    private static string Code(JsonElement reply)
    {
        Assert.False(reply.GetProperty("ok").GetBoolean(), reply.ToString());
        return reply.GetProperty("error").GetProperty("code").GetString()!;
    }

    private static string Output(JsonElement reply) =>
        Encoding.UTF8.GetString(reply.GetProperty("result").GetProperty("output").GetBytesFromBase64());

    private static string Request(string policy, string payloadJson, string tenant = ExecuteOverNatsFixture.Tenant) => new JsonObject
    {
        ["version"] = "1",
        ["tenant_id"] = tenant,
        ["request_id"] = $"req-{policy}",
        ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = JsonNode.Parse(payloadJson) },
        ["policy_id"] = policy,
    }.ToJsonString();
}

/// <summary>A nats-server, one worker with a cpu pool, and a control plane that dispatches over NATS.</summary>
public sealed class ExecuteOverNatsFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_nats_exec";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-execute-nats-{Guid.NewGuid():N}.json");

    public NatsServer Nats { get; private set; } = null!;

    public WorkerProcess Worker { get; private set; } = null!;

    public ControlPlaneProcess Process { get; private set; } = null!;

    /// <summary>The last request the custom provider <c>custom</c> received.</summary>
    public JsonElement? LastProviderRequest { get; private set; }

    private NatsTestClient _providers = null!;
    private readonly List<Task> _services = [];

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        // Two custom providers as a user would write them: one answers, one reports an error.
        _providers = await NatsTestClient.ConnectAsync(Nats.Url);
        _services.Add(await ServeAsync("beamline.provider.custom.v1", msg =>
        {
            using var request = JsonDocument.Parse(msg.Data ?? []);
            LastProviderRequest = request.RootElement.Clone();
            var text = request.RootElement.GetProperty("payload").GetProperty("text").GetString()!;
            string? tenantHeader = msg.Headers is { } headers && headers.TryGetValue("Beamline-Tenant", out var value) ? value.ToString() : null;
            var answer = new JsonObject { ["answer"] = text.ToUpperInvariant(), ["tenant_header"] = tenantHeader };
            return Encoding.UTF8.GetBytes(answer.ToJsonString());
        }));
        _services.Add(await ServeAsync("beamline.provider.failing.v1", _ => """{"error":{"code":"model_overloaded","message":"busy"}}"""u8.ToArray()));
        await _providers.Connection.PingAsync();
        Worker = await WorkerProcess.StartAsync(Nats.Url, WorkerProcess.NewId("exec-nats"), ["cpu=2"]);
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", Nats.Url);
    }

    // A custom provider as a user writes one with NATS.Net: a subscription loop that answers each request.
    private async Task<Task> ServeAsync(string subject, Func<NatsMsg<byte[]>, byte[]> answer)
    {
        var subscription = await _providers.Connection.SubscribeCoreAsync<byte[]>(subject);
        return Task.Run(async () =>
        {
            await foreach (var msg in subscription.Msgs.ReadAllAsync())
            {
                await msg.ReplyAsync(answer(msg));
            }
        });
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
        if (_providers is not null)
        {
            await _providers.DisposeAsync();
        }
        if (Nats is not null)
        {
            await Nats.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    private static JsonObject Policy(string id, string provider, string? fallbacks = null) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""{"version":"1.0","providers":[{"name":"{{provider}}","weight":100}],"fallbacks":[{{fallbacks}}]}"""),
    };

    private static string Config() => new JsonObject
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
                    ["default_policy"] = "direct",
                    ["policies"] = new JsonArray(
                        Policy("direct", "echo_cpu"),
                        Policy("blocks", "broken", """{"when":{"status":["5xx"]},"retry":0,"to":"echo_cpu"}"""),
                        Policy("custom", "custom"),
                        Policy("failing", "failing", """{"when":{"status":["5xx"]},"retry":0,"to":"echo_cpu"}"""),
                        Policy("absent", "absent", """{"when":{"status":["503"]},"retry":0,"to":"echo_cpu"}""")),
                }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"broken","kind":"block","block_type":"no.such.block","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"custom","kind":"nats_provider","timeout_ms":5000}"""),
                    JsonNode.Parse("""{"id":"failing","kind":"nats_provider","timeout_ms":5000}"""),
                    JsonNode.Parse("""{"id":"absent","kind":"nats_provider","timeout_ms":5000}""")),
            },
        },
    }.ToJsonString();
}
