using System.Net;
using System.Text.Json;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// <c>GET /admin/v1/extensions/health</c> after real calls to NATS extension services: each
/// extension's calls, failures, timeouts and breaker as this control plane measured them. The
/// extensions here are used by these tests only, so the counts are exact.
/// </summary>
[Collection(ExtensionsOverNatsCollection.Name)]
public sealed class ExtensionHealthEndToEndTests(ExtensionsOverNatsFixture host) : IDisposable
{
    private const string Payload = """{"messages":[{"role":"user","content":"hello"}]}""";

    private readonly Cp1Client _client = new(host.Server, ExtensionsOverNatsFixture.Tenant, ExtensionsOverNatsFixture.Key, host.Nats.Url);

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Health_AfterAnExecute_CountsEachNatsExtensionsCallsFailuresAndTimeouts()
    {
        var (status, executed) = await _client.ExecuteAsync("health", Payload);
        Assert.Equal(HttpStatusCode.OK, status);
        Cp1Client.Output(executed);

        var (healthStatus, body) = await _client.AdminAsync(HttpMethod.Get, $"admin/v1/extensions/health?tenant_id={ExtensionsOverNatsFixture.Tenant}",
            ExtensionsOverNatsFixture.AdminKey);

        Assert.Equal(HttpStatusCode.OK, healthStatus);
        Assert.True(body.GetProperty("ok").GetBoolean());
        Assert.True(body.GetProperty("extensions_run").GetBoolean());
        var health = body.GetProperty("health");

        var pre = health.GetProperty("health_pre");
        AssertRow(pre, "pre", ExtensionsOverNatsFixture.Subject("pre", "echo-rewrite"), calls: 1, failures: 0, timeouts: 0);
        Assert.Equal("healthy", pre.GetProperty("status").GetString());
        Assert.Equal(1.0, pre.GetProperty("success_rate").GetDouble());
        Assert.Equal(JsonValueKind.Null, pre.GetProperty("last_error").ValueKind);
        Assert.Equal(JsonValueKind.Number, pre.GetProperty("p50_ms").ValueKind);
        Assert.Equal("health", Assert.Single(pre.GetProperty("referenced_by").EnumerateArray()).GetProperty("policy_id").GetString());

        var validator = health.GetProperty("health_slow_validator");
        AssertRow(validator, "validator", ExtensionsOverNatsFixture.Subject("validator", "slow"), calls: 1, failures: 1, timeouts: 1);
        Assert.Equal("degraded", validator.GetProperty("status").GetString());
        Assert.Equal(0.0, validator.GetProperty("success_rate").GetDouble());
        Assert.Contains("300 ms", validator.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.String, validator.GetProperty("last_error_at").ValueKind);
        Assert.Equal(["validators"], validator.GetProperty("stages").EnumerateArray().Select(s => s.GetString()));

        var post = health.GetProperty("health_post_dead");
        AssertRow(post, "post", ExtensionsOverNatsFixture.Subject("post", "dead"), calls: 1, failures: 1, timeouts: 0);
        Assert.Equal(JsonValueKind.String, post.GetProperty("last_error").ValueKind);
    }

    [Fact]
    public async Task Health_AfterRepeatedFailures_ShowsTheBreakerOpened()
    {
        // Five consecutive failed calls open an extension's breaker (the runner's default threshold).
        for (var i = 0; i < 5; i++)
        {
            var (status, decided) = await _client.DecideAsync("breaker", Payload);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("breaker_dead", Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
        }

        var (_, body) = await _client.AdminAsync(HttpMethod.Get, "admin/v1/extensions/health", ExtensionsOverNatsFixture.AdminKey);

        var row = body.GetProperty("health").GetProperty("breaker_dead");
        Assert.Equal("nats", row.GetProperty("source").GetString());
        Assert.Equal(5, row.GetProperty("failure_count").GetInt32());
        Assert.Equal(0, row.GetProperty("success_count").GetInt32());
        // Open, or half-open if its cool-down has passed already on a slow machine: not closed.
        Assert.Contains(row.GetProperty("breaker").GetString(), new[] { "open", "half_open" });
        // Without a tenant filter, the extensions nobody's policy names are listed too, with their source.
        Assert.Equal("nats", body.GetProperty("health").GetProperty("normalize_text").GetProperty("source").GetString());
        Assert.Equal("builtin", body.GetProperty("health").GetProperty("add_metadata").GetProperty("source").GetString());
        Assert.Equal("closed", body.GetProperty("health").GetProperty("ext_pre_rewrite").GetProperty("breaker").GetString());
    }

    private static void AssertRow(JsonElement row, string type, string subject, int calls, int failures, int timeouts)
    {
        Assert.Equal("nats", row.GetProperty("source").GetString());
        Assert.Equal(type, row.GetProperty("type").GetString());
        Assert.Equal(subject, row.GetProperty("subject").GetString());
        Assert.Equal(calls, row.GetProperty("calls").GetInt32());
        Assert.Equal(calls - failures, row.GetProperty("success_count").GetInt32());
        Assert.Equal(failures, row.GetProperty("failure_count").GetInt32());
        Assert.Equal(timeouts, row.GetProperty("timeouts").GetInt32());
        Assert.Equal("closed", row.GetProperty("breaker").GetString());
    }
}
