using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Routing;

/// <summary>
/// How <c>POST /v1/execute</c> answers a provider that refuses: a 4xx is the caller's
/// <c>invalid_request</c>, a 429 is <c>quota_exceeded</c> with the provider's <c>Retry-After</c>,
/// and a client that goes away gets nothing written and no 500 (docs/decide.md).
/// </summary>
public sealed class ExecuteErrorMappingTests(ExecuteErrorMappingFixture host) : IClassFixture<ExecuteErrorMappingFixture>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Execute_ProviderAnswers404_ReturnsInvalidRequest400()
    {
        using var response = await ExecuteAsync("not_found");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body.ToString());
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
        Assert.Equal(404, error.GetProperty("details").GetProperty("http_status").GetInt32());
        Assert.Equal("http_404", Assert.Single(error.GetProperty("details").GetProperty("attempts").EnumerateArray())
            .GetProperty("error_code").GetString());
    }

    [Fact]
    public async Task Execute_ProviderAnswers429_ReturnsQuotaExceededWithTheProvidersRetryAfter()
    {
        using var response = await ExecuteAsync("limited");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, body.ToString());
        var error = body.GetProperty("error");
        Assert.Equal("quota_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(7, error.GetProperty("details").GetProperty("retry_after_seconds").GetInt32());
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Execute_ClientGoesAway_NothingIsAnsweredOrLoggedAsAFailure()
    {
        using (var cancel = new CancellationTokenSource())
        {
            var call = ExecuteAsync("slow", cancel.Token);
            await host.Upstream.SlowRequestArrived.WaitAsync(TimeSpan.FromSeconds(30));
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        }
        // The upstream answers 503 after the client left; the control plane logs the request's end.
        var finished = await host.Process.Process.WaitForLineAsync("/v1/execute - 499", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(" 500 ", finished, StringComparison.Ordinal);
        Assert.DoesNotContain("/v1/execute - 500", host.Process.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", host.Process.Process.Output, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> ExecuteAsync(string policy, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(host.Process.BaseAddress, "v1/execute"))
        {
            Content = new StringContent(new JsonObject
            {
                ["version"] = "1",
                ["tenant_id"] = ExecuteErrorMappingFixture.Tenant,
                ["request_id"] = $"req-{policy}",
                ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hello" } },
                ["policy_id"] = policy,
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ExecuteErrorMappingFixture.Key);
        return await _http.SendAsync(request, cancellationToken);
    }
}

/// <summary>A control plane whose providers are routes of one loopback upstream that refuses in several ways.</summary>
public sealed class ExecuteErrorMappingFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_errors";
    internal const string Key = "bl_errors_Q2s9dF0vYHk3mWcN8pLr5tXa1bZe7uJi4oKg6hVy2wE";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-errors-{Guid.NewGuid():N}.json");
    private readonly string _executorConfigFile = Path.Combine(Path.GetTempPath(), $"beamline-errors-executors-{Guid.NewGuid():N}.json");

    public ControlPlaneProcess Process { get; private set; } = null!;

    public RefusingUpstream Upstream { get; } = new();

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_executorConfigFile, """{"http":{"default_allow":["127.0.0.1"],"allow_private":true}}""");
        await File.WriteAllTextAsync(_configFile, Config());
        // ASP.NET's request log (off by default) is on: a test reads how a request's end is logged.
        Process = await ControlPlaneProcess.StartAsync(
            new Dictionary<string, string> { ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information" }, "--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }
        Upstream.Dispose();
        File.Delete(_configFile);
        File.Delete(_executorConfigFile);
    }

    private JsonObject Provider(string id) => new()
    {
        ["id"] = id,
        ["kind"] = "openai_compatible",
        ["model"] = "test-model",
        ["base_url"] = $"{Upstream.BaseUrl}/{id}",
    };

    private static JsonObject Policy(string id) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""{"version":"1.0","providers":[{"name":"{{id}}","weight":100}]}"""),
    };

    private string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["InProcess"] = new JsonObject { ["ExecutorConfigFile"] = _executorConfigFile },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "not_found",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(Policy("not_found"), Policy("limited"), Policy("slow")),
                }),
                ["providers"] = new JsonArray(Provider("not_found"), Provider("limited"), Provider("slow")),
            },
        },
    }.ToJsonString();
}

/// <summary>
/// A loopback OpenAI-compatible endpoint: <c>/v1/not_found/...</c> answers 404,
/// <c>/v1/limited/...</c> 429 with <c>Retry-After: 7</c>, <c>/v1/slow/...</c> 503 after 3 s.
/// </summary>
public sealed class RefusingUpstream : IDisposable
{
    private readonly LoopbackHttpServer _server;
    private readonly TaskCompletionSource _slowRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RefusingUpstream() => _server = new LoopbackHttpServer(AnswerAsync, concurrent: true);

    public string BaseUrl => _server.BaseUrl + "/v1";

    /// <summary>Completes when a request reached the slow route.</summary>
    public Task SlowRequestArrived => _slowRequest.Task;

    public void Dispose() => _server.Dispose();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var path = context.Request.Url!.AbsolutePath;
        using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
        {
            await reader.ReadToEndAsync();
        }
        if (path.StartsWith("/v1/slow/", StringComparison.Ordinal))
        {
            _slowRequest.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(3));
            context.Response.StatusCode = 503;
        }
        else if (path.StartsWith("/v1/limited/", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 429;
            context.Response.Headers["Retry-After"] = "7";
        }
        else
        {
            context.Response.StatusCode = 404;
        }
        context.Response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes("""{"error":{"message":"refused"}}""");
        try
        {
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
            // The caller gave up.
        }
    }
}
