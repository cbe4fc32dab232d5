using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Observability;

/// <summary>
/// <c>Beamline:Logging:Format=json</c>: one JSON object a line, and the lines logged while the
/// pipeline runs a request carry its tenant, request id and trace id.
/// </summary>
public sealed class JsonLogsTests : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key-0123456789";
    private const string TenantKey = "bl_tenanta_oSTjh5-HBoazfzCJBbNv4UIqdzWEqgSH6q4db6Ey5ok";

    private string _config = null!;
    private ControlPlaneProcess _controlPlane = null!;

    public async Task InitializeAsync()
    {
        _config = Path.Combine(Path.GetTempPath(), $"beamline-jsonlogs-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(_config, Config());
        _controlPlane = await ControlPlaneProcess.StartAsync("--config", _config);
    }

    public async Task DisposeAsync()
    {
        await _controlPlane.DisposeAsync();
        File.Delete(_config);
    }

    [Fact]
    public async Task ExecuteWithASkippedExtension_ItsWarningCarriesTenantRequestAndTraceIds()
    {
        var requestId = $"jsonlogs-{Guid.NewGuid():N}";
        using var http = new HttpClient();
        using var execute = new HttpRequestMessage(HttpMethod.Post, new Uri(_controlPlane.BaseAddress, "v1/execute"))
        {
            Content = new StringContent(new JsonObject
            {
                ["version"] = "1",
                ["tenant_id"] = "tenant_a",
                ["request_id"] = requestId,
                ["trace_id"] = "trace-jsonlogs-1",
                ["task"] = new JsonObject { ["type"] = "chat", ["payload"] = new JsonObject { ["text"] = "hi" } },
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        execute.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);
        using var answer = await http.SendAsync(execute);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        // The optional pre step names an extension nobody registered: the runner logs a warning.
        var line = await WaitForLineAsync(l => l.Contains("not_registered_anywhere", StringComparison.Ordinal));
        using var entry = JsonDocument.Parse(line);
        Assert.Equal("Warning", entry.RootElement.GetProperty("LogLevel").GetString());
        var scopes = entry.RootElement.GetProperty("Scopes").EnumerateArray().ToList();
        Assert.Contains(scopes, s => s.ValueKind == JsonValueKind.Object
            && s.TryGetProperty("tenant_id", out var tenant) && tenant.GetString() == "tenant_a"
            && s.TryGetProperty("request_id", out var id) && id.GetString() == requestId
            && s.TryGetProperty("trace_id", out var trace) && trace.GetString() == "trace-jsonlogs-1");
        // ASP.NET's own scope is there too: the HTTP request the line belongs to.
        Assert.Contains(scopes, s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("RequestPath", out var path) && path.GetString() == "/v1/execute");
    }

    private async Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var found = _controlPlane.Process.Output.Split('\n').FirstOrDefault(l => l.StartsWith('{') && match(l));
            if (found is not null)
            {
                return found;
            }
            await Task.Delay(50, timeout.Token);
        }
    }

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Logging"] = new JsonObject { ["Format"] = "json" },
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = "tenant_a",
                    ["default_policy"] = "default",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = TenantKey }),
                    ["policies"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "default",
                        ["json"] = JsonNode.Parse("""
                            {"version":"1.0","providers":[{"name":"mock","weight":1}],
                             "pre":[{"id":"not_registered_anywhere","mode":"optional"}]}
                            """),
                    }),
                }),
                ["providers"] = new JsonArray(JsonNode.Parse("""{"id":"mock","kind":"mock","model":"mock-1"}""")),
            },
        },
    }.ToJsonString();
}
