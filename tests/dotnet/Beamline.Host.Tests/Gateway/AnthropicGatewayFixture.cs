using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Gateway;

/// <summary>
/// A real <c>beamline serve</c> with two mock providers, one answering in the OpenAI shape
/// (<c>mock-gpt</c>) and one in the Anthropic shape (<c>mock-claude</c>), so that every face can be
/// served by either API, translated or not. Tenant A's default policy routes to <c>m-claude</c>;
/// tenant B has no default policy (a model naming nothing is a 404). Tenant A's <c>masked*</c>
/// policies run <c>mask_pii</c> over an answer holding <see cref="PiiReply"/>: from a mock answering
/// in the request's shape (<c>masked</c>), or in the OpenAI or Anthropic shape (<c>masked-openai</c>, <c>masked-claude</c>).
/// </summary>
public sealed class AnthropicGatewayFixture : IAsyncLifetime
{
    public const string TenantKey = "bl_tenanta_oSTjh5-HBoazfzCJBbNv4UIqdzWEqgSH6q4db6Ey5ok";
    public const string TenantBKey = "bl_tenantb_Zq3kP9sLw2XvN8mR4tYc6uJh1fGd5aEo7iBn0QpWx2s";
    public const string OpenAIModel = "mock-gpt";
    public const string AnthropicModel = "mock-claude";

    /// <summary>What the providers of the <c>masked*</c> policies answer: an e-mail address, and a phone number the mocks stream word by word, in four events.</summary>
    public const string PiiReply = "Write to bob@example.com or call +1 415 555 2671 now";

    private string _folder = null!;

    public ControlPlaneProcess ControlPlane { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The root URL an SDK takes as its base (the SDKs add <c>/v1/...</c>).</summary>
    public string BaseUrl => ControlPlane.BaseAddress.ToString().TrimEnd('/');

    public async Task InitializeAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"beamline-anthropic-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        var policy = Path.Combine(_folder, "claude-first.json");
        await File.WriteAllTextAsync(policy, """{"version":"1.0","providers":[{"name":"m-claude","weight":100}]}""");
        var config = Path.Combine(_folder, "config.json");
        await File.WriteAllTextAsync(config, Config(policy));
        ControlPlane = await ControlPlaneProcess.StartAsync("--config", config);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await ControlPlane.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>POSTs <paramref name="json"/> to <paramref name="path"/> with the key in <c>x-api-key</c> (or none).</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, string json, string? key = TenantKey, bool bearer = false,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ControlPlane.BaseAddress, path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (key is not null && bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else if (key is not null)
        {
            request.Headers.Add("x-api-key", key);
        }
        return await Http.SendAsync(request, completion);
    }

    private static JsonObject Masked(string id, string provider) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""
            {"version":"1.0","providers":[{"name":"{{provider}}","weight":100}],"post":[{"id":"mask_pii","mode":"required"}]}
            """),
    };

    private static string Config(string policy) => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = "test-admin-key-0123456789",
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(
                    new JsonObject
                    {
                        ["id"] = "tenant_a",
                        ["default_policy"] = "default",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = TenantKey }),
                        ["policies"] = new JsonArray(
                            new JsonObject { ["id"] = "default", ["file"] = policy },
                            Masked("masked", "m-pii"),
                            Masked("masked-openai", "m-pii-openai"),
                            Masked("masked-claude", "m-pii-claude")),
                    },
                    new JsonObject
                    {
                        ["id"] = "tenant_b",
                        ["keys"] = new JsonArray(new JsonObject { ["key"] = TenantBKey }),
                    }),
                ["providers"] = new JsonArray(
                    JsonNode.Parse($$"""{"id":"m-openai","kind":"mock","model":"{{OpenAIModel}}","format":"openai","chunk_interval_ms":1}"""),
                    JsonNode.Parse($$"""{"id":"m-claude","kind":"mock","model":"{{AnthropicModel}}","format":"anthropic","chunk_interval_ms":1}"""),
                    JsonNode.Parse($$"""{"id":"m-pii","kind":"mock","model":"mock-pii","reply":"{{PiiReply}}"}"""),
                    JsonNode.Parse($$"""{"id":"m-pii-openai","kind":"mock","model":"mock-pii-openai","format":"openai","reply":"{{PiiReply}}"}"""),
                    JsonNode.Parse($$"""{"id":"m-pii-claude","kind":"mock","model":"mock-pii-claude","format":"anthropic","reply":"{{PiiReply}}"}""")),
            },
        },
    }.ToJsonString();
}
