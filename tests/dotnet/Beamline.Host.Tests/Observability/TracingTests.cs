using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;
using NATS.Client.Core;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// One trace across processes: a request with a <c>traceparent</c> → a real <c>beamline serve
/// --nats</c> exporting its spans over OTLP to <see cref="OtlpReceiver"/> → a pre extension that is a
/// node NATS service (it answers with the <c>traceparent</c> header it got) → the block provider's
/// block over NATS → a real <c>beamline-worker --log-format json</c>, whose log line for the block
/// continues the trace.
/// </summary>
public sealed class TracingTests(TracingFixture host) : IClassFixture<TracingFixture>
{
    private static readonly string[] ExecuteSpans =
        ["beamline.execute", "beamline.admit", "beamline.pre", "beamline.extension", "beamline.route", "beamline.provider", "beamline.block", "beamline.worker"];

    [Fact]
    public async Task ExecuteOverHttp_OneTraceFromTheClientThroughTheExtensionToTheWorker()
    {
        var (traceId, callerSpan) = (ActivityTraceId.CreateRandom().ToHexString(), ActivitySpanId.CreateRandom().ToHexString());
        var requestId = $"trace-http-{Guid.NewGuid():N}";
        using var http = new HttpClient();
        using var execute = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Server.BaseAddress, "v1/execute"))
        {
            Content = new StringContent(TracingFixture.Request(requestId), Encoding.UTF8, "application/json"),
        };
        execute.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TracingFixture.Key);
        execute.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");

        using var response = await http.SendAsync(execute);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.IsSuccessStatusCode, body);
        var spans = await host.Otlp.WaitForTraceAsync(traceId, callerSpan, ExecuteSpans);
        // The face: ASP.NET Core's server span, a child of the caller's span.
        var server = Assert.Single(spans, s => s.ParentSpanId == callerSpan);
        Assert.Equal(2, server.Kind); // SPAN_KIND_SERVER
        AssertTree(spans, server);
        var executeSpan = Assert.Single(spans, s => s.Name == "beamline.execute");
        Assert.Equal(server.SpanId, executeSpan.ParentSpanId);
        Assert.Equal(TracingFixture.Tenant, executeSpan.Attributes["tenant_id"]);
        Assert.Equal(requestId, executeSpan.Attributes["request_id"]);
        Assert.Equal("traced", executeSpan.Attributes["policy_id"]);
        var provider = Assert.Single(spans, s => s.Name == "beamline.provider");
        Assert.Equal("echo_cpu", provider.Attributes["provider_id"]);
        Assert.Equal("ok", provider.Attributes["status"]);
        var block = AssertWorkerPart(spans, provider);

        // The extension got the extension span's context in its NATS headers.
        var extension = Assert.Single(spans, s => s.Name == "beamline.extension");
        Assert.Equal("trace_headers", extension.Attributes["extension_id"]);
        var seen = ExtensionTraceparent(body);
        Assert.Equal($"00-{traceId}-{extension.SpanId}-01", seen);

        await AssertWorkerLogAsync(traceId, block);
    }

    [Fact]
    public async Task ExecuteOverNats_TheFaceContinuesTheTraceparentHeader()
    {
        var (traceId, callerSpan) = (ActivityTraceId.CreateRandom().ToHexString(), ActivitySpanId.CreateRandom().ToHexString());
        await using var nats = new NatsConnection(new NatsOpts { Url = host.Nats.Url });
        var headers = new NatsHeaders { ["traceparent"] = $"00-{traceId}-{callerSpan}-01" };

        var reply = await nats.RequestAsync<byte[], byte[]>("beamline.router.v1.execute",
            Encoding.UTF8.GetBytes(TracingFixture.Request($"trace-nats-{Guid.NewGuid():N}")), headers);

        var body = Encoding.UTF8.GetString(reply.Data!);
        var spans = await host.Otlp.WaitForTraceAsync(traceId, ["beamline.router.v1.execute", .. ExecuteSpans]);
        var face = Assert.Single(spans, s => s.ParentSpanId == callerSpan);
        Assert.Equal("beamline.router.v1.execute", face.Name);
        Assert.Equal(2, face.Kind);
        AssertTree(spans, face);
        var block = AssertWorkerPart(spans, Assert.Single(spans, s => s.Name == "beamline.provider"));
        Assert.StartsWith($"00-{traceId}-", ExtensionTraceparent(body), StringComparison.Ordinal);
        await AssertWorkerLogAsync(traceId, block);
    }

    [Fact]
    public async Task ARequestWithoutTraceparent_StartsATraceOfItsOwn()
    {
        var requestId = $"trace-new-{Guid.NewGuid():N}";
        using var http = new HttpClient();
        using var execute = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Server.BaseAddress, "v1/execute"))
        {
            Content = new StringContent(TracingFixture.Request(requestId), Encoding.UTF8, "application/json"),
        };
        execute.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TracingFixture.Key);

        using var response = await http.SendAsync(execute);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.IsSuccessStatusCode, body);
        var traceId = ExtensionTraceparent(body)!.Split('-')[1];
        // The root is the HTTP server span: wait for it too (it ends after the response).
        var spans = await host.Otlp.WaitForTraceAsync(traceId, string.Empty, ExecuteSpans);
        var root = Assert.Single(spans, s => s.ParentSpanId.Length == 0);
        AssertTree(spans, root);
        Assert.Equal(requestId, Assert.Single(spans, s => s.Name == "beamline.execute").Attributes["request_id"]);
    }

    /// <summary>Every span but <paramref name="root"/> has its parent among the trace's spans.</summary>
    private static void AssertTree(IReadOnlyList<ReceivedSpan> spans, ReceivedSpan root)
    {
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        Assert.Equal(spans.Count, ids.Count);
        Assert.All(spans.Where(s => s != root), s => Assert.Contains(s.ParentSpanId, ids));
    }

    /// <summary>The block span under the provider attempt, and the worker's span under it; returns the block span.</summary>
    private ReceivedSpan AssertWorkerPart(IReadOnlyList<ReceivedSpan> spans, ReceivedSpan provider)
    {
        var block = Assert.Single(spans, s => s.Name == "beamline.block");
        Assert.Equal(provider.SpanId, block.ParentSpanId);
        Assert.Equal("nats", block.Attributes["dispatch"]);
        Assert.Equal("cpu", block.Attributes["pool"]);
        var worker = Assert.Single(spans, s => s.Name == "beamline.worker");
        Assert.Equal(block.SpanId, worker.ParentSpanId);
        Assert.Equal(host.Worker.WorkerId, worker.Attributes["worker_id"]);
        Assert.True(long.Parse(worker.Attributes["queue_us"], System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.True(long.Parse(worker.Attributes["exec_us"], System.Globalization.CultureInfo.InvariantCulture) >= 0);
        return block;
    }

    /// <summary>The worker's JSON line for the block: the same trace, a span whose parent is the block span.</summary>
    private async Task AssertWorkerLogAsync(string traceId, ReceivedSpan block)
    {
        var line = await host.Worker.Process.WaitForLineAsync($"\"trace_id\":\"{traceId}\"", TimeSpan.FromSeconds(15));
        using var log = JsonDocument.Parse(line);
        var root = log.RootElement;
        Assert.Equal("block", root.GetProperty("msg").GetString());
        Assert.Equal(block.SpanId, root.GetProperty("parent_span_id").GetString());
        Assert.Matches("^[0-9a-f]{16}$", root.GetProperty("span_id").GetString());
        Assert.Equal(block.Attributes["block_id"], root.GetProperty("block_id").GetString());
        Assert.Equal("echo", root.GetProperty("type").GetString());
        Assert.Equal("cpu", root.GetProperty("pool").GetString());
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.Equal(host.Worker.WorkerId, root.GetProperty("worker_id").GetString());
        Assert.True(root.GetProperty("queue_us").GetInt64() >= 0);
        Assert.True(root.GetProperty("exec_us").GetInt64() >= 0);
    }

    /// <summary>The traceparent the pre extension saw: it made it the payload, which the echo block gave back.</summary>
    private static string? ExtensionTraceparent(string executeReply)
    {
        using var reply = JsonDocument.Parse(executeReply);
        Assert.True(reply.RootElement.GetProperty("ok").GetBoolean(), executeReply);
        var output = Encoding.UTF8.GetString(reply.RootElement.GetProperty("result").GetProperty("output").GetBytesFromBase64());
        using var payload = JsonDocument.Parse(output);
        return payload.RootElement.GetProperty("traceparent").GetString();
    }
}

/// <summary>
/// A nats-server, the node extension service <c>headers</c>, a worker logging JSON, an OTLP
/// receiver, and a control plane with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> pointing at it.
/// </summary>
public sealed class TracingFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_tracing";
    internal const string Key = "bl_tracing_Hq3vX9kLmN2pR7sT1wYz4bC6dF8gJ0aE5uI3oK7nM2q";

    private readonly string _root = Directory.CreateTempSubdirectory("beamline-tracing-").FullName;
    private ChildProcess? _node;

    public NatsServer Nats { get; private set; } = null!;

    public WorkerProcess Worker { get; private set; } = null!;

    public ControlPlaneProcess Server { get; private set; } = null!;

    internal OtlpReceiver Otlp { get; } = new();

    internal static string Request(string requestId) => new JsonObject
    {
        ["version"] = "1",
        ["tenant_id"] = Tenant,
        ["request_id"] = requestId,
        ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["q"] = "trace me" } },
        ["policy_id"] = "traced",
    }.ToJsonString();

    public async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        var subject = NodeExtensionServices.Subject("pre", "headers");
        _node = await NodeExtensionServices.StartAsync(Nats.Url, [$"{subject}=headers"]);
        Worker = await WorkerProcess.StartAsync(Nats.Url, WorkerProcess.NewId("trace"), ["cpu=2"], "--log-format", "json");

        var extensions = Path.Combine(_root, "extensions");
        Directory.CreateDirectory(extensions);
        await File.WriteAllTextAsync(Path.Combine(extensions, "trace_headers.json"), new JsonObject
        {
            ["id"] = "trace_headers",
            ["type"] = "pre",
            ["subject"] = subject,
            ["timeout_ms"] = 5_000,
            ["retry"] = 0,
            ["enabled"] = true,
        }.ToJsonString());
        var config = Path.Combine(_root, "beamline.json");
        await File.WriteAllTextAsync(config, Config(extensions));
        Server = await ControlPlaneProcess.StartAsync(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Otlp.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        }, "--config", config, "--nats", Nats.Url);
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
        Otlp.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static string Config(string extensions) => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Extensions"] = new JsonObject { ["Directory"] = extensions },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "traced",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "traced",
                        ["json"] = JsonNode.Parse("""
                            {"version":"1.0","providers":[{"name":"echo_cpu","weight":100}],
                             "pre":[{"id":"trace_headers","mode":"required"}]}
                            """),
                    }),
                }),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}
