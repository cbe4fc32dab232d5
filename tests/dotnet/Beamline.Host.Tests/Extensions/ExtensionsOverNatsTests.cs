using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Beamline.Testing;

namespace Beamline.Host.Tests.Extensions;

/// <summary>
/// CP1 extensions as NATS services, end to end: a policy's <c>pre</c>, <c>validators</c> and
/// <c>post</c> steps resolved through the registry directory (and the admin API) of a real
/// <c>beamline serve --nats</c>, called on node services, asked over HTTP and over NATS.
/// </summary>
[Collection(ExtensionsOverNatsCollection.Name)]
public sealed class ExtensionsOverNatsTests(ExtensionsOverNatsFixture host) : IDisposable
{
    private const string Payload = """{"messages":[{"role":"user","content":"hello"}],"n":1}""";

    private readonly Cp1Client _client = new(host.Server, ExtensionsOverNatsFixture.Tenant, ExtensionsOverNatsFixture.Key, host.Nats.Url);

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Execute_RequiredPre_RewritesThePayloadTheProviderGets()
    {
        var (status, http) = await _client.ExecuteAsync("pre_rewrite", Payload);
        var nats = await _client.ExecuteOverNatsAsync("pre_rewrite", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var body in new[] { http, nats })
        {
            // The echo provider answers with what it was given: the payload as the node pre left it.
            var output = JsonNode.Parse(Cp1Client.Output(body))!;
            Assert.Equal("node", output["rewritten_by"]!.GetValue<string>());
            Assert.Equal("hello", output["messages"]![0]!["content"]!.GetValue<string>());
            Assert.Equal(1, output["n"]!.GetValue<int>());
            Assert.Equal("echo_cpu", body.GetProperty("route").GetProperty("provider_id").GetString());
        }
    }

    [Fact]
    public async Task Decide_RequiredPreThatAnswers_Decides()
    {
        var (status, http) = await _client.DecideAsync("pre_rewrite", Payload);
        var nats = await _client.DecideOverNatsAsync("pre_rewrite", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("echo_cpu", http.GetProperty("decision").GetProperty("provider_id").GetString());
        Assert.Equal("echo_cpu", nats.GetProperty("decision").GetProperty("provider_id").GetString());
        Assert.Null(Cp1Client.DecisionMetadata(http, "extensions_skipped"));
    }

    [Fact]
    public async Task Execute_PreMetadataIsMergedAndNoPolicyOrRegistryConfigReachesAService()
    {
        // The node post 'inspect' answers with the CP1 request it was sent.
        var (status, body) = await _client.ExecuteAsync("pre_inspect", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        var text = Cp1Client.Output(body);
        var seen = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(ExtensionsOverNatsFixture.Tenant, seen["tenant_id"]!.GetValue<string>());
        Assert.StartsWith("req-pre_inspect-", seen["request_id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("trace-ext", seen["trace_id"]!.GetValue<string>());
        // The post saw the provider's answer, which is the payload the pre rewrote...
        Assert.Equal("node", seen["payload"]!["rewritten_by"]!.GetValue<string>());
        // ...and the request's metadata with what the pre merged into it.
        Assert.Equal("node", seen["metadata"]!["seen_by"]!.GetValue<string>());
        Assert.False(seen.ContainsKey("config"), text);
        Assert.DoesNotContain("policy-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("entry-config-secret", text, StringComparison.Ordinal);
        Assert.Equal(["metadata", "payload", "request_id", "tenant_id", "trace_id"], seen.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task DecideWithPushAssignment_PublishesThePayloadAsThePreRewroteIt()
    {
        await using var nats = await NatsTestClient.ConnectAsync(host.Nats.Url);
        await using var assignments = await nats.CollectAsync("caf.exec.assign.v1");
        var requestId = $"req-push-{Guid.NewGuid():N}";
        var request = JsonNode.Parse(_client.Request("pre_rewrite", Payload, requestId))!;
        request["push_assignment"] = true;

        var (status, decided) = await _client.DecideAsync(request.ToJsonString());

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("published", Cp1Client.DecisionMetadata(decided, "assignment"));
        var message = await assignments.WaitForAsync(m => JsonNode.Parse(m.Data)!["request_id"]!.GetValue<string>() == requestId, TimeSpan.FromSeconds(20));
        var job = JsonNode.Parse(message.Data)!["job"]!;
        // The worker is to run what the policy's pre extensions made of the request, not what the client sent.
        Assert.Equal("node", job["payload"]!["rewritten_by"]?.GetValue<string>());
        Assert.Equal("hello", job["payload"]!["messages"]![0]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task DecideAndExecute_OptionalPresThatAreDeadSlowOrMalformed_AreSkippedAndTheRequestSucceeds()
    {
        var (decideStatus, decided) = await _client.DecideAsync("pre_optional_failing", Payload);
        var natsDecided = await _client.DecideOverNatsAsync("pre_optional_failing", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("pre_optional_failing", Payload);

        const string Skipped = "ext_pre_dead_optional,ext_pre_slow_optional,ext_pre_malformed,ext_pre_array";
        Assert.Equal(HttpStatusCode.OK, decideStatus);
        Assert.Equal(Skipped, Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
        Assert.Equal(Skipped, Cp1Client.DecisionMetadata(natsDecided, "extensions_skipped"));
        Assert.Equal(HttpStatusCode.OK, executeStatus);
        Assert.Equal(JsonNode.Parse(Payload)!.ToJsonString(), JsonNode.Parse(Cp1Client.Output(executed))!.ToJsonString());
    }

    [Fact]
    public async Task DecideAndExecute_RequiredPreThatIsDead_IsExtensionUnavailable()
    {
        var (decideStatus, decided) = await _client.DecideAsync("pre_required_dead", Payload);
        var nats = await _client.DecideOverNatsAsync("pre_required_dead", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("pre_required_dead", Payload);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, decideStatus);
        Assert.Contains("ext_pre_dead", Cp1Client.Error(decided, "extension_unavailable").GetProperty("message").GetString(), StringComparison.Ordinal);
        Cp1Client.Error(nats, "extension_unavailable");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, executeStatus);
        Cp1Client.Error(executed, "extension_unavailable");
    }

    [Fact]
    public async Task DecideAndExecute_RequiredPreSlowerThanItsTimeout_IsExtensionTimeout()
    {
        var (decideStatus, decided) = await _client.DecideAsync("pre_required_slow", Payload);
        var nats = await _client.DecideOverNatsAsync("pre_required_slow", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("pre_required_slow", Payload);

        Assert.Equal(HttpStatusCode.GatewayTimeout, decideStatus);
        Assert.Contains("ext_pre_slow", Cp1Client.Error(decided, "extension_timeout").GetProperty("message").GetString(), StringComparison.Ordinal);
        Cp1Client.Error(nats, "extension_timeout");
        Assert.Equal(HttpStatusCode.GatewayTimeout, executeStatus);
        Cp1Client.Error(executed, "extension_timeout");
    }

    [Fact]
    public async Task DecideAndExecute_ValidatorRejectsWithOnFailBlock_IsValidatorBlockedNamingIt()
    {
        var (decideStatus, decided) = await _client.DecideAsync("validator_block", Payload);
        var nats = await _client.DecideOverNatsAsync("validator_block", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("validator_block", Payload);
        var natsExecuted = await _client.ExecuteOverNatsAsync("validator_block", Payload);

        Assert.Equal(HttpStatusCode.Forbidden, decideStatus);
        Assert.Equal(HttpStatusCode.Forbidden, executeStatus);
        foreach (var body in new[] { decided, nats, executed, natsExecuted })
        {
            var details = Cp1Client.Error(body, "validator_blocked").GetProperty("details");
            Assert.Equal("ext_val_reject", details.GetProperty("validator").GetString());
            Assert.Equal("node says no", details.GetProperty("reason").GetString());
            Assert.Equal("no-node", details.GetProperty("details").GetProperty("rule").GetString());
            Assert.Equal(ExtensionsOverNatsFixture.Tenant, details.GetProperty("details").GetProperty("tenant").GetString());
        }
        // Blocked before any provider was called.
        Assert.False(executed.TryGetProperty("route", out var route) && route.GetProperty("attempts").GetArrayLength() > 0, executed.ToString());
    }

    [Fact]
    public async Task DecideAndExecute_ValidatorRejectsWithOnFailWarn_SucceedsWithTheWarningInTheDecision()
    {
        var (status, decided) = await _client.DecideAsync("validator_warn", Payload);
        var nats = await _client.DecideOverNatsAsync("validator_warn", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("validator_warn", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ext_val_reject", Cp1Client.DecisionMetadata(decided, "validator_warnings"));
        Assert.Equal("ext_val_reject", Cp1Client.DecisionMetadata(nats, "validator_warnings"));
        Assert.Null(Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
        Assert.Equal(HttpStatusCode.OK, executeStatus);
        Assert.Equal(JsonNode.Parse(Payload)!.ToJsonString(), JsonNode.Parse(Cp1Client.Output(executed))!.ToJsonString());
    }

    [Fact]
    public async Task Decide_ValidatorRejectsWithOnFailIgnore_SucceedsWithoutAWarning()
    {
        var (status, decided) = await _client.DecideAsync("validator_ignore", Payload);
        var nats = await _client.DecideOverNatsAsync("validator_ignore", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(Cp1Client.DecisionMetadata(decided, "validator_warnings"));
        Assert.Null(Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
        Assert.Null(Cp1Client.DecisionMetadata(nats, "validator_warnings"));
    }

    [Fact]
    public async Task Execute_Post_RewritesTheAnswer()
    {
        var (status, http) = await _client.ExecuteAsync("post_rewrite", Payload);
        var nats = await _client.ExecuteOverNatsAsync("post_rewrite", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var body in new[] { http, nats })
        {
            var output = JsonNode.Parse(Cp1Client.Output(body))!;
            Assert.Equal("node", output["rewritten_by"]!.GetValue<string>());
            Assert.Equal("hello", output["messages"]![0]!["content"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("post_required_dead", "ext_post_dead")]
    [InlineData("post_required_malformed", "ext_post_malformed")]
    public async Task Execute_RequiredPostThatFails_IsExtensionUnavailableAfterTheProviderAnswered(string policy, string extension)
    {
        var (status, body) = await _client.ExecuteAsync(policy, Payload);
        var nats = await _client.ExecuteOverNatsAsync(policy, Payload);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var error = Cp1Client.Error(body, "extension_unavailable");
        Assert.Contains(extension, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var attempt = Assert.Single(error.GetProperty("details").GetProperty("attempts").EnumerateArray());
        Assert.Equal("echo_cpu", attempt.GetProperty("provider_id").GetString());
        Assert.Equal("ok", attempt.GetProperty("status").GetString());
        Cp1Client.Error(nats, "extension_unavailable");
    }

    [Fact]
    public async Task Execute_OptionalPostsThatFail_LeaveTheOriginalAnswer()
    {
        var (status, body) = await _client.ExecuteAsync("post_optional_failing", Payload);
        var nats = await _client.ExecuteOverNatsAsync("post_optional_failing", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonNode.Parse(Payload)!.ToJsonString(), JsonNode.Parse(Cp1Client.Output(body))!.ToJsonString());
        Assert.Equal(JsonNode.Parse(Payload)!.ToJsonString(), JsonNode.Parse(Cp1Client.Output(nats))!.ToJsonString());
    }

    [Fact]
    public async Task DecideAndExecute_UnknownRequiredPreOrBlockingValidator_IsExtensionNotFound()
    {
        foreach (var (policy, id) in new[] { ("unknown_pre_required", "nope_pre"), ("unknown_validator_block", "nope_block") })
        {
            var (decideStatus, decided) = await _client.DecideAsync(policy, Payload);
            var nats = await _client.DecideOverNatsAsync(policy, Payload);
            var (executeStatus, executed) = await _client.ExecuteAsync(policy, Payload);

            Assert.Equal(HttpStatusCode.NotFound, decideStatus);
            Assert.Contains(id, Cp1Client.Error(decided, "extension_not_found").GetProperty("message").GetString(), StringComparison.Ordinal);
            Cp1Client.Error(nats, "extension_not_found");
            Assert.Equal(HttpStatusCode.NotFound, executeStatus);
            Cp1Client.Error(executed, "extension_not_found");
        }
    }

    [Fact]
    public async Task Execute_UnknownRequiredPost_IsExtensionNotFound_WhileDecideRunsNoPost()
    {
        var (executeStatus, executed) = await _client.ExecuteAsync("unknown_post_required", Payload);
        var (decideStatus, decided) = await _client.DecideAsync("unknown_post_required", Payload);

        Assert.Equal(HttpStatusCode.NotFound, executeStatus);
        Assert.Contains("nope_post", Cp1Client.Error(executed, "extension_not_found").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, decideStatus);
        Assert.Null(Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
    }

    [Fact]
    public async Task DecideAndExecute_UnknownOptionalWarnAndIgnoreSteps_AreSkippedAndListed()
    {
        var (decideStatus, decided) = await _client.DecideAsync("unknown_optional", Payload);
        var nats = await _client.DecideOverNatsAsync("unknown_optional", Payload);
        var (executeStatus, executed) = await _client.ExecuteAsync("unknown_optional", Payload);

        Assert.Equal(HttpStatusCode.OK, decideStatus);
        Assert.Equal("nope_pre,nope_warn,nope_ignore", Cp1Client.DecisionMetadata(decided, "extensions_skipped"));
        Assert.Equal("nope_pre,nope_warn,nope_ignore", Cp1Client.DecisionMetadata(nats, "extensions_skipped"));
        // An unknown validator is skipped, not a warning.
        Assert.Null(Cp1Client.DecisionMetadata(decided, "validator_warnings"));
        Assert.Equal(HttpStatusCode.OK, executeStatus);
        Assert.Equal(JsonNode.Parse(Payload)!.ToJsonString(), JsonNode.Parse(Cp1Client.Output(executed))!.ToJsonString());
    }

    [Fact]
    public async Task AdminPut_NewEntry_IsUsedByTheNextDecideWithoutARestart()
    {
        var (before, unknown) = await _client.DecideAsync("late", Payload);
        Assert.Equal(HttpStatusCode.NotFound, before);
        Cp1Client.Error(unknown, "extension_not_found");
        try
        {
            var (put, _) = await _client.AdminAsync(HttpMethod.Put, "admin/v1/extensions/late_guard", ExtensionsOverNatsFixture.AdminKey,
                $$"""{"type":"validator","subject":"{{ExtensionsOverNatsFixture.Subject("validator", "reject")}}","timeout_ms":5000}""");
            Assert.Equal(HttpStatusCode.OK, put);

            var (blockedStatus, blocked) = await _client.DecideAsync("late", Payload);
            var natsBlocked = await _client.DecideOverNatsAsync("late", Payload);

            Assert.Equal(HttpStatusCode.Forbidden, blockedStatus);
            Assert.Equal("late_guard", Cp1Client.Error(blocked, "validator_blocked").GetProperty("details").GetProperty("validator").GetString());
            Assert.Equal("late_guard", Cp1Client.Error(natsBlocked, "validator_blocked").GetProperty("details").GetProperty("validator").GetString());

            // A second PUT points it at a service that says ok: live again.
            (put, _) = await _client.AdminAsync(HttpMethod.Put, "admin/v1/extensions/late_guard", ExtensionsOverNatsFixture.AdminKey,
                $$"""{"type":"validator","subject":"{{ExtensionsOverNatsFixture.Subject("validator", "echo-rewrite")}}","timeout_ms":5000}""");
            Assert.Equal(HttpStatusCode.OK, put);
            var (passedStatus, passed) = await _client.DecideAsync("late", Payload);
            Assert.Equal(HttpStatusCode.OK, passedStatus);
            Assert.Equal("echo_cpu", passed.GetProperty("decision").GetProperty("provider_id").GetString());
        }
        finally
        {
            await _client.AdminAsync(HttpMethod.Delete, "admin/v1/extensions/late_guard", ExtensionsOverNatsFixture.AdminKey);
        }
        var (after, gone) = await _client.DecideAsync("late", Payload);
        Assert.Equal(HttpStatusCode.NotFound, after);
        Cp1Client.Error(gone, "extension_not_found");
    }

    [Fact]
    public async Task Decide_UpstreamFixtureEntryWithASubject_IsCalledOverNatsInsteadOfTheBuiltIn()
    {
        // pii_guard.json (upstream, unchanged) names beamline.ext.validate.pii_guard.v1, which no one
        // serves: the entry wins over the built-in of that id, fails, and on_fail warn applies.
        var (status, decided) = await _client.DecideAsync("fixture_entries", Payload);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("pii_guard", Cp1Client.DecisionMetadata(decided, "validator_warnings"));
    }
}
