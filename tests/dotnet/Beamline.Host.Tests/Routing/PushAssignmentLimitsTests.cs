using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// What a decide with <c>push_assignment</c> may do, against a real nats-server and
/// <c>beamline serve --nats</c>: only allowed subjects, only CP1 task types, within the key's
/// concurrency until the worker's result arrives, and never over the server's max_payload.
/// The test plays the worker (it reads assignments and publishes results).
/// </summary>
public sealed class PushAssignmentLimitsTests : IAsyncLifetime
{
    private const string Tenant = "tenant_push";
    private const string Key = "bl_push_Q2s9dF0vYHk3mWcN8pLr5tXa1bZe7uJi4oKg6hVy2wE";
    private const string OneAtATimeKey = "bl_push1_Hzk3ZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-push-{Guid.NewGuid():N}.json");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private NatsServer _nats = null!;
    private ControlPlaneProcess _controlPlane = null!;
    private NatsTestClient _client = null!;
    private NatsTestClient.Collector _everything = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        _nats = await NatsServer.StartAsync();
        _controlPlane = await ControlPlaneProcess.StartAsync("--config", _configFile, "--nats", _nats.Url);
        _client = await NatsTestClient.ConnectAsync(_nats.Url);
        _everything = await _client.CollectAsync(">");
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_everything is not null)
        {
            await _everything.DisposeAsync();
        }
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_controlPlane is not null)
        {
            await _controlPlane.DisposeAsync();
        }
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    [Theory]
    [InlineData("caf.exec.v2.cpu")]
    [InlineData("caf.exec.result.v1")]
    [InlineData("beamline.router.v1.execute")]
    [InlineData("$SYS.REQ.SERVER.PING")]
    [InlineData("tenant_other.assignments")]
    public async Task Decide_PushToASubjectNotAllowed_ReturnsInvalidRequestAndPublishesNothing(string subject)
    {
        var requestId = $"req-subject-{Guid.NewGuid():N}";
        var request = TaskForm(requestId, "chat", """{"text":"hi"}""");
        request["assignment_subject"] = subject;

        var (status, body) = await DecideAsync(Key, request);

        Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("assignment_subject", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        await AssertNothingPublishedAsync(requestId);
    }

    [Theory]
    [InlineData("fs.write")]
    [InlineData("sql.query")]
    [InlineData("http.request")]
    public async Task Decide_PushWithAJobTypeThatIsNotATaskType_ReturnsInvalidRequestAndPublishesNothing(string messageType)
    {
        var requestId = $"req-type-{Guid.NewGuid():N}";
        var request = new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["message_id"] = requestId,
                ["tenant_id"] = Tenant,
                ["message_type"] = messageType,
                ["payload"] = JsonNode.Parse("""{"path":"x","data":"owned"}"""),
            },
            ["push_assignment"] = true,
        };

        var (status, body) = await DecideAsync(Key, request);

        Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("message.message_type", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
        await AssertNothingPublishedAsync(requestId);
    }

    [Fact]
    public async Task Decide_PushHoldsAConcurrencySlotUntilItsResultArrives()
    {
        var (first, firstBody) = await DecideAsync(OneAtATimeKey, TaskForm("req-slot-1", "chat", """{"text":"hi"}"""));
        Assert.True(first == HttpStatusCode.OK, firstBody.ToString());
        Assert.Equal("published", firstBody.GetProperty("decision").GetProperty("metadata").GetProperty("assignment").GetString());
        var assignment = Parse((await _everything.WaitForAsync(
            m => m.Subject == "caf.exec.assign.v1" && Parse(m.Data).GetProperty("request_id").GetString() == "req-slot-1", Wait)).Data);

        // The key allows one request in flight, and the pushed assignment still is.
        var (second, secondBody) = await DecideAsync(OneAtATimeKey, TaskForm("req-slot-2", "chat", """{"text":"hi"}"""));
        Assert.True(second == HttpStatusCode.TooManyRequests, secondBody.ToString());
        Assert.Equal("quota_exceeded", secondBody.GetProperty("error").GetProperty("code").GetString());

        // The worker's result frees the slot.
        var result = new JsonObject
        {
            ["assignment_id"] = assignment.GetProperty("assignment_id").GetString(),
            ["request_id"] = "req-slot-1",
            ["status"] = "success",
            ["latency_ms"] = 3,
        };
        await _client.PublishAsync("caf.exec.result.v1", Encoding.UTF8.GetBytes(result.ToJsonString()));
        var deadline = DateTime.UtcNow + Wait;
        HttpStatusCode third;
        do
        {
            await Task.Delay(50);
            (third, _) = await DecideAsync(OneAtATimeKey, TaskForm($"req-slot-3-{Guid.NewGuid():N}", "chat", """{"text":"hi"}"""));
        }
        while (third != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, third);
    }

    [Fact]
    public async Task Decide_AssignmentOverTheServersMaxPayload_ReturnsInvalidRequest()
    {
        var requestId = $"req-large-{Guid.NewGuid():N}";
        var text = new string('a', 1_100_000); // the decide body limit is raised to 4 MiB; NATS allows 1 MB
        var (status, body) = await DecideAsync(Key, TaskForm(requestId, "chat", JsonSerializer.Serialize(new { text })));

        Assert.True(status == HttpStatusCode.BadRequest, body.ToString());
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        Assert.Equal("request_too_large", error.GetProperty("details").GetProperty("type").GetString());

        // Still serving: a normal push goes out.
        var (ok, okBody) = await DecideAsync(Key, TaskForm("req-after-large", "chat", """{"text":"hi"}"""));
        Assert.True(ok == HttpStatusCode.OK, okBody.ToString());
    }

    private async Task AssertNothingPublishedAsync(string requestId)
    {
        // An allowed push afterwards, on the same control-plane connection, arrives after anything
        // the refused one could have published (NATS keeps one connection's messages in order).
        var fence = $"req-fence-{Guid.NewGuid():N}";
        var (status, body) = await DecideAsync(Key, TaskForm(fence, "chat", """{"text":"hi"}"""));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        await _everything.WaitForAsync(m => m.Subject == "caf.exec.assign.v1" && Parse(m.Data).GetProperty("request_id").GetString() == fence, Wait);
        Assert.DoesNotContain(_everything.Messages, m => m.Data is { } data && Encoding.UTF8.GetString(data).Contains(requestId, StringComparison.Ordinal));
    }

    private static JsonObject TaskForm(string requestId, string type, string payload) => new()
    {
        ["version"] = "1",
        ["tenant_id"] = Tenant,
        ["request_id"] = requestId,
        ["task"] = new JsonObject { ["type"] = type, ["payload"] = JsonNode.Parse(payload) },
        ["push_assignment"] = true,
    };

    private async Task<(HttpStatusCode Status, JsonElement Body)> DecideAsync(string key, JsonObject request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_controlPlane.BaseAddress, "api/v1/routes/decide"))
        {
            Content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await _http.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static JsonElement Parse(byte[]? data)
    {
        using var document = JsonDocument.Parse(data ?? []);
        return document.RootElement.Clone();
    }

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Http"] = new JsonObject { ["MaxDecideRequestBytes"] = 4 * 1024 * 1024 },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "echo",
                    ["keys"] = new JsonArray(
                        new JsonObject { ["key"] = Key },
                        new JsonObject { ["key"] = OneAtATimeKey, ["limits"] = new JsonObject { ["max_concurrent_requests"] = 1 } }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "echo",
                        ["json"] = JsonNode.Parse("""{"version":"1.0","providers":[{"name":"echo_cpu","weight":100}]}"""),
                    }),
                }),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}
