using System.Net;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// The embedded default: a real <c>beamline serve</c> without NATS, whose policies name the
/// built-in extensions (normalize_text, pii_guard, mask_pii, ...). They run in-process; providers
/// are in-process <c>echo</c> blocks, which answer with the payload they are given.
/// </summary>
public sealed class BuiltInExtensionsEndToEndTests(BuiltInExtensionsHostFixture host) : IClassFixture<BuiltInExtensionsHostFixture>, IDisposable
{
    private readonly Cp1Client _client = new(host.Server, BuiltInExtensionsHostFixture.Tenant, BuiltInExtensionsHostFixture.Key);

    public void Dispose() => _client.Dispose();

    private static string Chat(string content) => new JsonObject
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
    }.ToJsonString();

    private static string Content(string output) => JsonNode.Parse(output)!["messages"]![0]!["content"]!.GetValue<string>();

    [Fact]
    public async Task Execute_PiiGuard_BlocksAPayloadHoldingAnEmailWithoutRepeatingIt()
    {
        var (status, body) = await _client.ExecuteAsync("guard", Chat("write to jane.doe@example.com please"));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        var details = Cp1Client.Error(body, "validator_blocked").GetProperty("details");
        Assert.Equal("pii_guard", details.GetProperty("validator").GetString());
        Assert.Equal("pii_detected", details.GetProperty("reason").GetString());
        Assert.Equal(["email"], details.GetProperty("details").GetProperty("types").EnumerateArray().Select(t => t.GetString()));
        Assert.DoesNotContain("jane.doe", body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_PiiGuard_LetsACleanPayloadThrough()
    {
        var (status, body) = await _client.ExecuteAsync("guard", Chat("nothing personal here"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("nothing personal here", Content(Cp1Client.Output(body)));
    }

    [Fact]
    public async Task Execute_MaskPii_MasksThePiiInTheProvidersAnswer()
    {
        var (status, body) = await _client.ExecuteAsync("mask", Chat("mail jane.doe@example.com or bob@example.org today"));

        Assert.Equal(HttpStatusCode.OK, status);
        var output = Cp1Client.Output(body);
        Assert.Equal("mail [EMAIL] or [EMAIL] today", Content(output));
        Assert.DoesNotContain("@example", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_NormalizeText_NormalizesTheMessageTextBeforeTheProvider()
    {
        // Decomposed "é" (e + U+0301) is composed (NFC), white space trimmed and collapsed, text lowercased.
        var (status, body) = await _client.ExecuteAsync("normalize", Chat("  Caf\u0065\u0301   IS\t OPEN  "));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("caf\u00e9 is open", Content(Cp1Client.Output(body)));
    }

    [Fact]
    public async Task Decide_FixturePolicyExtensionsFull_RunsItsBuiltInsAndListsTheUnknownOnesAsSkipped()
    {
        var (status, body) = await _client.DecideAsync("extensions_full", Chat("Hello"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(body.GetProperty("decision").GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
        Assert.Equal("extensions_full", body.GetProperty("decision").GetProperty("policy_id").GetString());
        // rate_limit_check (on_fail ignore) is neither registered nor built in; decide runs no post.
        Assert.Equal("rate_limit_check", Cp1Client.DecisionMetadata(body, "extensions_skipped"));
        Assert.Null(Cp1Client.DecisionMetadata(body, "validator_warnings"));
    }

    [Fact]
    public async Task Execute_FixturePolicyExtensionsFull_NormalizesThenMasksAndSkipsTheUnknownOptionalPost()
    {
        // The provider (an echo block) answers with the normalized payload; format_response (optional) is unknown.
        var (status, body) = await _client.ExecuteAsync("extensions_full", Chat("  HELLO   There  "));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("hello there", Content(Cp1Client.Output(body)));
        Assert.Contains(body.GetProperty("route").GetProperty("provider_id").GetString(), new[] { "openai", "anthropic" });
    }

    [Fact]
    public async Task DecideAndExecute_FixturePolicyExtensionsFull_PiiGuardBlocksAnEmail()
    {
        var (decideStatus, decided) = await _client.DecideAsync("extensions_full", Chat("I am jane.doe@example.com"));
        var (executeStatus, executed) = await _client.ExecuteAsync("extensions_full", Chat("I am jane.doe@example.com"));

        Assert.Equal(HttpStatusCode.Forbidden, decideStatus);
        Assert.Equal("pii_guard", Cp1Client.Error(decided, "validator_blocked").GetProperty("details").GetProperty("validator").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, executeStatus);
        Assert.Equal("pii_guard", Cp1Client.Error(executed, "validator_blocked").GetProperty("details").GetProperty("validator").GetString());
    }

    [Fact]
    public async Task AdminPut_EntryWithASubjectOverABuiltIn_IsUnavailableWithoutNats_AndDeleteBringsTheBuiltInBack()
    {
        var (before, ok) = await _client.ExecuteAsync("tagged", Chat("hi"));
        Assert.Equal(HttpStatusCode.OK, before);
        Cp1Client.Output(ok);
        try
        {
            var (put, _) = await _client.AdminAsync(HttpMethod.Put, "admin/v1/extensions/add_metadata", BuiltInExtensionsHostFixture.AdminKey,
                """{"type":"pre","subject":"beamline.ext.pre.add_metadata.v1","timeout_ms":1000}""");
            Assert.Equal(HttpStatusCode.OK, put);

            // An entry with a subject is a NATS service; with no NATS configured it cannot be reached.
            var (status, body) = await _client.ExecuteAsync("tagged", Chat("hi"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Contains("add_metadata", Cp1Client.Error(body, "extension_unavailable").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await _client.AdminAsync(HttpMethod.Delete, "admin/v1/extensions/add_metadata", BuiltInExtensionsHostFixture.AdminKey);
        }
        var (after, again) = await _client.ExecuteAsync("tagged", Chat("hi"));
        Assert.Equal(HttpStatusCode.OK, after);
        Assert.Equal("hi", Content(Cp1Client.Output(again)));
    }
}

/// <summary>One control plane without NATS whose tenant has a policy per built-in, and the upstream fixture policy <c>extensions_full</c>.</summary>
public sealed class BuiltInExtensionsHostFixture : IAsyncLifetime
{
    internal const string Tenant = "tenant_ext_builtin";
    internal const string Key = "bl_extbuiltin_Zp4Wq8rT2yU6iO0pA3sD7fG1hJ5kL9zX2cV6bN0mQ4w";
    internal const string AdminKey = "test-admin-key-0123456789";

    private readonly string _configFile = Path.Combine(Path.GetTempPath(), $"beamline-ext-builtin-{Guid.NewGuid():N}.json");

    public ControlPlaneProcess Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_configFile, Config());
        Server = await ControlPlaneProcess.StartAsync("--config", _configFile);
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
        File.Delete(_configFile);
    }

    private static JsonObject Policy(string id, string steps) => new()
    {
        ["id"] = id,
        ["json"] = JsonNode.Parse($$"""{"version":"1.0","providers":[{"name":"echo_cpu","weight":100}],{{steps}}}"""),
    };

    private static string Config() => new JsonObject
    {
        ["Beamline"] = new JsonObject
        {
            ["Tenancy"] = new JsonObject
            {
                ["AdminKey"] = AdminKey,
                ["Pepper"] = "test-pepper-0123456789abcdef",
                ["tenants"] = new JsonArray(new JsonObject
                {
                    ["id"] = Tenant,
                    ["default_policy"] = "guard",
                    ["keys"] = new JsonArray(new JsonObject { ["key"] = Key }),
                    ["policies"] = new JsonArray(
                        Policy("guard", """ "validators":[{"id":"pii_guard","on_fail":"block"}] """),
                        Policy("mask", """ "post":[{"id":"mask_pii","mode":"required"}] """),
                        Policy("normalize", """ "pre":[{"id":"normalize_text","mode":"required","config":{"lowercase":true}}] """),
                        Policy("tagged", """ "pre":[{"id":"add_metadata","mode":"required","config":{"metadata":{"team":"a"}}}] """),
                        new JsonObject { ["id"] = "extensions_full", ["file"] = Cp1Fixtures.Policy("extensions_full") }),
                }),
                // The fixture policy's providers, as in-process echo blocks.
                ["providers"] = new JsonArray(
                    JsonNode.Parse("""{"id":"echo_cpu","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"openai","kind":"block","block_type":"echo","pool":"cpu"}"""),
                    JsonNode.Parse("""{"id":"anthropic","kind":"block","block_type":"echo","pool":"cpu"}""")),
            },
        },
    }.ToJsonString();
}
