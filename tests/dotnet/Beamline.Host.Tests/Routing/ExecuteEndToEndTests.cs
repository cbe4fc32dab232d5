using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// <c>POST /v1/execute</c> as clients use it: a real <c>beamline serve</c> running blocks
/// in-process, with providers of kind <c>block</c> and an OpenAI-compatible provider served by a
/// loopback HTTP server of the test.
/// </summary>
public sealed class ExecuteEndToEndTests(ExecuteHostFixture host) : IClassFixture<ExecuteHostFixture>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Execute_BlockProvider_ReturnsTheBlockOutput()
    {
        var (status, body) = await ExecuteAsync("direct", JsonNode.Parse("""{"q":"two"}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        Assert.Equal("""{"q":"two"}""", Output(body));
        Assert.Equal("echo_cpu", body.GetProperty("route").GetProperty("provider_id").GetString());
        var attempt = Assert.Single(body.GetProperty("route").GetProperty("attempts").EnumerateArray());
        Assert.Equal("ok", attempt.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("error_code").ValueKind);
        Assert.Equal("req-direct", body.GetProperty("context").GetProperty("request_id").GetString());
        Assert.Equal("trace-1", body.GetProperty("context").GetProperty("trace_id").GetString());
    }

    [Fact]
    public async Task Execute_UnknownBlockType_FallsBackToTheNextProvider()
    {
        var (status, body) = await ExecuteAsync("blocks", JsonNode.Parse("""{"n":1}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"n":1}""", Output(body));
        var attempts = Attempts(body);
        Assert.Equal(["broken:weighted:error:unknown_executor", "echo_cpu:fallback:ok:"], attempts);
    }

    [Fact]
    public async Task Execute_DeadlineExceeded_FallsBackOnTimeout()
    {
        var (status, body) = await ExecuteAsync("slow", JsonValue.Create(5000));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("5000", Output(body));
        var attempts = Attempts(body);
        Assert.Equal(2, attempts.Length);
        Assert.StartsWith("sleepy:weighted:", attempts[0], StringComparison.Ordinal);
        Assert.EndsWith(":deadline_exceeded", attempts[0], StringComparison.Ordinal);
        Assert.Equal("echo_cpu:fallback:ok:", attempts[1]);
    }

    [Fact]
    public async Task Execute_EveryProviderFails_ReturnsDecisionFailedWithAttempts()
    {
        var (status, body) = await ExecuteAsync("exhausted", JsonNode.Parse("""{"n":2}"""));

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.False(body.GetProperty("ok").GetBoolean());
        var error = body.GetProperty("error");
        Assert.Equal("decision_failed", error.GetProperty("code").GetString());
        var attempts = error.GetProperty("details").GetProperty("attempts").EnumerateArray()
            .Select(a => a.GetProperty("provider_id").GetString()!).ToArray();
        Assert.Equal(["broken", "broken_too"], attempts);
    }

    [Fact]
    public async Task Execute_OpenAICompatibleProvider_RetriesAfter503()
    {
        var (status, body) = await ExecuteAsync("http", JsonNode.Parse("""{"text":"hello","role":"user"}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        Assert.Equal(200, body.GetProperty("result").GetProperty("http_status").GetInt32());
        Assert.Equal("chatcmpl-test", JsonDocument.Parse(Output(body)).RootElement.GetProperty("id").GetString());
        Assert.Equal(["llm:weighted:error:http_503", "llm:retry:ok:"], Attempts(body));
        var sent = JsonNode.Parse(host.Upstream.LastBody)!;
        Assert.Equal("test-model", sent["model"]!.GetValue<string>());
        Assert.Equal("hello", sent["messages"]![0]!["content"]!.GetValue<string>());
        // Hardening item 9: the block named the credential; the embedded runtime added the key.
        Assert.Equal("Bearer " + ExecuteHostFixture.OpenAIKey, host.Upstream.LastHeaders["authorization"]);
    }

    [Fact]
    public async Task Execute_AnthropicProvider_CallsTheMessagesApi()
    {
        var payload = JsonNode.Parse("""{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello"}]}""");
        var (status, body) = await ExecuteAsync("claude", payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("ok").GetBoolean(), body.ToString());
        Assert.Equal(["claude:weighted:error:http_503", "claude:retry:ok:"], Attempts(body));
        Assert.Equal("/v1/messages", host.AnthropicUpstream.LastPath);
        Assert.Equal("2023-06-01", host.AnthropicUpstream.LastHeaders["anthropic-version"]);
        Assert.Equal(ExecuteHostFixture.AnthropicKey, host.AnthropicUpstream.LastHeaders["x-api-key"]);
        Assert.False(host.AnthropicUpstream.LastHeaders.ContainsKey("authorization"));
        var sent = JsonNode.Parse(host.AnthropicUpstream.LastBody)!;
        Assert.Equal("claude-test", sent["model"]!.GetValue<string>());
        Assert.Equal(1024, sent["max_tokens"]!.GetValue<int>());
        Assert.Equal("Be brief.", sent["system"]!.GetValue<string>());
        var message = Assert.Single(sent["messages"]!.AsArray());
        Assert.Equal("user", message!["role"]!.GetValue<string>());
        Assert.Equal("hello", message["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_PayloadAsksForAModelTheProviderEntryDoesNotOffer_Returns400AndCallsNoProvider()
    {
        var (status, body) = await ExecuteAsync("cheap", JsonNode.Parse("""{"model":"gpt-4-32k-expensive","text":"hello"}"""));

        Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("gpt-4-32k-expensive", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("", host.CheapUpstream.LastBody);
    }

    [Fact]
    public async Task Execute_WithoutKey_Returns401()
    {
        using var response = await _http.PostAsync(new Uri(host.Process.BaseAddress, "v1/execute"),
            new StringContent(Request("direct", JsonValue.Create(1)), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static string Output(JsonElement body) =>
        Encoding.UTF8.GetString(body.GetProperty("result").GetProperty("output").GetBytesFromBase64());

    private static string[] Attempts(JsonElement body) => body.GetProperty("route").GetProperty("attempts").EnumerateArray()
        .Select(a => $"{a.GetProperty("provider_id").GetString()}:{a.GetProperty("reason").GetString()}:{a.GetProperty("status").GetString()}:{(a.GetProperty("error_code").ValueKind == JsonValueKind.String ? a.GetProperty("error_code").GetString() : "")}")
        .ToArray();

    private async Task<(HttpStatusCode Status, JsonElement Body)> ExecuteAsync(string policy, JsonNode? payload)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Process.BaseAddress, "v1/execute"))
        {
            Content = new StringContent(Request(policy, payload), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteHostFixture.Key);
        using var response = await _http.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string Request(string policy, JsonNode? payload) => new JsonObject
    {
        ["version"] = "1",
        ["tenant_id"] = ExecuteHostFixture.Tenant,
        ["request_id"] = $"req-{policy}",
        ["trace_id"] = "trace-1",
        ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = payload },
        ["policy_id"] = policy,
    }.ToJsonString();
}

/// <summary>One control plane whose tenant has a policy per scenario, and the loopback upstream.</summary>
public sealed class ExecuteHostFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_exec";
    internal const string Key = "bl_exec_Q2s9dF0vYHk3mWcN8pLr5tXa1bZe7uJi4oKg6hVy2wE";
    internal const string AdminKey = "test-admin-key-0123456789";
    internal const string OpenAIKey = "sk-openai-test-3c1f0a";
    internal const string AnthropicKey = "sk-ant-test-7d2e9b";
    private const string OpenAIKeyVariable = "BEAMLINE_TEST_EXEC_OPENAI_KEY";
    private const string AnthropicKeyVariable = "BEAMLINE_TEST_EXEC_ANTHROPIC_KEY";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-execute-{Guid.NewGuid():N}.json");
    private readonly string _executorConfigFile = Path.Combine(Path.GetTempPath(), $"beamline-executors-{Guid.NewGuid():N}.json");

    public ControlPlaneProcess Process { get; private set; } = null!;

    public FlakyUpstream Upstream { get; } = new();

    public FlakyUpstream AnthropicUpstream { get; } = new();

    public FlakyUpstream CheapUpstream { get; } = new();

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_executorConfigFile, """{"http":{"default_allow":["127.0.0.1"],"allow_private":true},"debug":{"enabled":true}}""");
        await File.WriteAllTextAsync(_configFile, Config());
        Process = await ControlPlaneProcess.StartAsync(
            new Dictionary<string, string> { [OpenAIKeyVariable] = OpenAIKey, [AnthropicKeyVariable] = AnthropicKey }, "--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        Upstream.Dispose();
        AnthropicUpstream.Dispose();
        CheapUpstream.Dispose();
        File.Delete(_configFile);
        File.Delete(_executorConfigFile);
    }

    private static JsonObject Policy(string id, string provider, string? fallbacks = null) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""{"version":"1.0","providers":[{"name":"{{provider}}","weight":100}],"fallbacks":[{{fallbacks}}]}"""),
    };

    private string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["InProcess"] = new JsonObject { ["ExecutorConfigFile"] = _executorConfigFile },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "direct",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(
                        Policy("direct", "echo_cpu"),
                        Policy("blocks", "broken", """{"when":{"status":["5xx"]},"retry":0,"to":"echo_cpu"}"""),
                        Policy("slow", "sleepy", """{"when":{"status":["timeout"]},"retry":0,"to":"echo_cpu"}"""),
                        Policy("exhausted", "broken", """{"when":{"status":["5xx"]},"retry":0,"to":"broken_too"}"""),
                        Policy("http", "llm", """{"when":{"status":["503"]},"retry":1,"to":"echo_cpu"}"""),
                        Policy("claude", "claude", """{"when":{"status":["503"]},"retry":1,"to":"echo_cpu"}"""),
                        Policy("cheap", "cheap_llm")),
                }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"broken","kind":"block","block_type":"no.such.block"}"""),
                    JsonNode.Parse("""{"id":"broken_too","kind":"block","block_type":"no.such.block.either"}"""),
                    JsonNode.Parse("""{"id":"sleepy","kind":"block","block_type":"debug.sleep","timeout_ms":100}"""),
                    new JsonObject
                    {
                        ["id"] = "llm",
                        ["kind"] = "openai_compatible",
                        ["model"] = "test-model",
                        ["base_url"] = Upstream.BaseUrl,
                        ["api_key_env"] = OpenAIKeyVariable,
                    },
                    new JsonObject
                    {
                        ["id"] = "claude",
                        ["kind"] = "anthropic",
                        ["model"] = "claude-test",
                        ["base_url"] = AnthropicUpstream.BaseUrl,
                        ["api_key_env"] = AnthropicKeyVariable,
                    },
                    new JsonObject
                    {
                        ["id"] = "cheap_llm",
                        ["kind"] = "openai_compatible",
                        ["model"] = "llama-cheap",
                        ["base_url"] = CheapUpstream.BaseUrl,
                    }),
            },
        },
    }.ToJsonString();
}

/// <summary>A loopback OpenAI-compatible endpoint that answers 503 to its first request and 200 after.</summary>
public sealed class FlakyUpstream : IDisposable
{
    private readonly LoopbackHttpServer _server;
    private int _requests;

    public FlakyUpstream() => _server = new LoopbackHttpServer(AnswerAsync);

    public string BaseUrl => _server.BaseUrl + "/v1";

    public string LastBody { get; private set; } = "";

    public string LastPath { get; private set; } = "";

    public IReadOnlyDictionary<string, string> LastHeaders { get; private set; } = new Dictionary<string, string>();

    public void Dispose() => _server.Dispose();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        LastPath = context.Request.Url!.AbsolutePath;
        LastHeaders = context.Request.Headers.AllKeys.Where(k => k is not null)
            .ToDictionary(k => k!.ToLowerInvariant(), k => context.Request.Headers[k]!, StringComparer.Ordinal);
        using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
        {
            LastBody = await reader.ReadToEndAsync();
        }
        var first = Interlocked.Increment(ref _requests) == 1;
        var reply = first
            ? """{"error":{"message":"overloaded"}}"""
            : """{"id":"chatcmpl-test","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}""";
        context.Response.StatusCode = first ? 503 : 200;
        context.Response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(reply);
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }
}
