using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Activity;

/// <summary>
/// <c>GET /admin/v1/activity/stream</c> on a real <c>beamline serve</c>, read as an operator's
/// client reads it: a streamed HTTP response parsed line by line.
/// </summary>
public sealed class ActivityStreamEndToEndTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";
    private const string TenantKey = "bl_tenanta_oSTjh5-HBoazfzCJBbNv4UIqdzWEqgSH6q4db6Ey5ok";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private string _config = null!;
    private ControlPlaneProcess _controlPlane = null!;

    public async Task InitializeAsync()
    {
        _config = Path.Combine(Path.GetTempPath(), $"beamline-activity-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(_config, Config());
        _controlPlane = await ControlPlaneProcess.StartAsync("--config", _config);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _controlPlane.DisposeAsync();
        File.Delete(_config);
    }

    [Fact]
    public async Task Stream_WithAdminKey_OpensAnEventStreamWithConnectedThenPing()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await OpenAsync("admin/v1/activity/stream?tenant_id=tenant_a&history=10", AdminKey, cancel.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Equal("no", Assert.Single(response.Headers.GetValues("X-Accel-Buffering")));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Equal(": connected", await reader.ReadLineAsync(cancel.Token));
        Assert.Equal("", await reader.ReadLineAsync(cancel.Token));
        // The heartbeat is 200 ms here (Beamline:Activity:HeartbeatInterval); nothing else happens.
        Assert.Equal(": ping", await reader.ReadLineAsync(cancel.Token));
        Assert.Equal("", await reader.ReadLineAsync(cancel.Token));
        Assert.Equal(": ping", await reader.ReadLineAsync(cancel.Token));
    }

    // Issue 10: the stream shows what real requests do, as they run, to a client reading it over HTTP.
    [Fact]
    public async Task Stream_WhileDecidesRun_ShowsEachRequestsStagesInOrder()
    {
        using var cancel = new CancellationTokenSource(Wait);
        using var response = await OpenAsync("admin/v1/activity/stream?tenant_id=tenant_a", AdminKey, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Equal(": connected", await reader.ReadLineAsync(cancel.Token));

        var requestIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var requestId = $"activity-{i}-{Guid.NewGuid():N}";
            requestIds.Add(requestId);
            using var decide = new HttpRequestMessage(HttpMethod.Post, new Uri(_controlPlane.BaseAddress, "api/v1/routes/decide"))
            {
                Content = new StringContent(new JsonObject
                {
                    ["version"] = "1",
                    ["tenant_id"] = "tenant_a",
                    ["request_id"] = requestId,
                    ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hi" } },
                }.ToJsonString(),
                    System.Text.Encoding.UTF8, "application/json"),
            };
            decide.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);
            using var answer = await _http.SendAsync(decide, cancel.Token);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        var seen = new Dictionary<string, List<string>>();
        while (requestIds.Any(id => !seen.TryGetValue(id, out var kinds) || !kinds.Contains("final")))
        {
            var line = await reader.ReadLineAsync(cancel.Token);
            Assert.NotNull(line);
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            var data = JsonNode.Parse(line["data: ".Length..])!;
            Assert.Equal("tenant_a", data["tenant_id"]!.GetValue<string>());
            var id = data["request_id"]!.GetValue<string>();
            if (!seen.TryGetValue(id, out var list))
            {
                seen[id] = list = [];
            }
            list.Add(data["kind"]!.GetValue<string>());
        }
        Assert.All(requestIds, id => Assert.Equal(["received", "decision", "final"], seen[id]));
    }

    [Fact]
    public async Task Stream_ClientLeavesAndComesBack_EachStreamIsItsOwn()
    {
        for (var i = 0; i < 3; i++)
        {
            using var cancel = new CancellationTokenSource(Wait);
            using var response = await OpenAsync("admin/v1/activity/stream", AdminKey, cancel.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            Assert.Equal(": connected", await reader.ReadLineAsync(cancel.Token));
        }
        // The control plane still answers: the streams that were left ended on their own.
        using var health = await _http.GetAsync(new Uri(_controlPlane.BaseAddress, "healthz"));
        Assert.True(health.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Stream_WithoutOrWithWrongAdminKey_Returns401()
    {
        foreach (var key in new[] { null, "not-the-admin-key", TenantKey })
        {
            using var response = await OpenAsync("admin/v1/activity/stream", key, CancellationToken.None);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
            Assert.False(body.GetProperty("ok").GetBoolean());
            Assert.Equal("unauthorized", body.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("many")]
    [InlineData("99999999999")]
    public async Task Stream_MalformedHistory_Returns400NamingTheField(string history)
    {
        using var response = await OpenAsync($"admin/v1/activity/stream?history={history}", AdminKey, CancellationToken.None);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("history", body.GetProperty("error").GetProperty("details").GetProperty("field").GetString());
    }

    [Fact]
    public async Task Sigterm_WithOpenStreams_EndsThemAndExitsWithoutWaitingForTheShutdownTimeout()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var readers = new List<(HttpResponseMessage Response, StreamReader Reader)>();
        for (var i = 0; i < 3; i++)
        {
            var response = await OpenAsync($"admin/v1/activity/stream?tenant_id={(i == 0 ? "no_such_tenant" : "tenant_a")}", AdminKey, cancel.Token);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            Assert.Equal(": connected", await reader.ReadLineAsync(cancel.Token));
            readers.Add((response, reader));
        }

        _controlPlane.Process.Terminate();

        // Each stream ends cleanly (end of stream, not a reset), and the process exits 0 long
        // before its 60 s shutdown timeout, which an open request would otherwise hold it to.
        foreach (var (response, reader) in readers)
        {
            string? line;
            do
            {
                line = await reader.ReadLineAsync(cancel.Token);
            }
            while (line is not null);
            reader.Dispose();
            response.Dispose();
        }
        Assert.Equal(0, await _controlPlane.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    private async Task<HttpResponseMessage> OpenAsync(string path, string? key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_controlPlane.BaseAddress, path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Shutdown"] = new JsonObject { ["TimeoutSeconds"] = 60 },
            ["Activity"] = new JsonObject { ["HeartbeatInterval"] = "00:00:00.200" },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = "tenant_a",
                    ["default_policy"] = "default",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = TenantKey }),
                    ["policies"] = new JsonArray(new JsonObject { ["id"] = "default", ["file"] = Cp1Fixtures.Policy("default") }),
                }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"openai","kind":"openai","model":"gpt-4o-mini"}"""),
                    JsonNode.Parse("""{"id":"anthropic","kind":"anthropic"}"""),
                    JsonNode.Parse("""{"id":"local_llm","kind":"openai_compatible","base_url":"http://127.0.0.1:1/v1"}""")),
            },
        },
    }.ToJsonString();
}
