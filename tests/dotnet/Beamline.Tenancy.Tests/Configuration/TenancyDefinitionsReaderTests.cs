using System.Text.Json;
using Beamline.Tenancy.ApiKeys;
using Beamline.Tenancy.Tests.Infrastructure;
using Beamline.Testing;
using Microsoft.Extensions.Logging;

namespace Beamline.Tenancy.Tests.Configuration;

public sealed class TenancyDefinitionsReaderTests : IDisposable
{
    public const string DemoKey = "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw";

    private readonly TempDirectory _temp = new();

    public static string ExamplePath => Path.Combine(RepoPaths.Root, "control", "src", "Beamline.Cli", "examples", "beamline.example.json");

    public static string FixturePolicy(string name) => Path.Combine(Cp1Fixtures.Policies, name);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Load_ExampleFile_DemoKeyAuthenticatesAsTheDemoTenantWithTheFixturePolicy()
    {
        var logs = new ListLoggerProvider();
        var directory = await Directories.OpenAsync(_temp.DatabasePath, file: ExamplePath, logs: logs);

        Assert.True(directory.TryAuthenticate(DemoKey, out var principal));
        Assert.Equal("tenant_abc123", principal.TenantId);
        Assert.Equal("team_support", principal.TeamId);
        Assert.Equal("default", principal.DefaultPolicyId);
        Assert.Equal(120, principal.Limits.RequestsPerMinute);
        Assert.Equal(4, principal.Limits.MaxConcurrentRequests);
        Assert.Equal(25m, principal.Limits.MonthlyBudgetUsd);
        Assert.True(directory.TryGetPolicyJson("tenant_abc123", "default", out var policy));
        // The fixture's default policy with one more fallback: the in-process demo_mock provider last.
        var expected = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(FixturePolicy("default.json")))!;
        expected["fallbacks"]!.AsArray().Add(System.Text.Json.Nodes.JsonNode.Parse(
            """{"when":{"status":["timeout","5xx","rate_limited","circuit_breaker_open","all_providers_failed"]},"retry":0,"to":"demo_mock"}"""));
        AssertSameJson(expected.ToJsonString(), policy);
        Assert.Equal(["anthropic", "demo_mock", "local_llm", "openai"], directory.Providers.Select(p => p.Id));
        Assert.Contains(logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("plaintext", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Load_FileReferencesAndPreHashedKey_AreApplied()
    {
        var hasher = new ApiKeyHasher(System.Text.Encoding.UTF8.GetBytes(Directories.Pepper));
        var key = ApiKeyFormat.Create("ci-key");
        var definitions = $$"""
            {
              "tenants": [{
                "id": "tenant_x",
                "default_policy": "sticky",
                "teams": [{ "id": "t1", "limits": { "requests_per_minute": 10 } }],
                "keys": [{ "id": "ci-key", "team_id": "t1", "key_hash": "{{hasher.HashToString(key)}}" }],
                "policies": [{ "id": "sticky", "file": {{JsonSerializer.Serialize(FixturePolicy("sticky_weights.json"))}} }]
              }],
              "providers": [{ "id": "p1", "kind": "openai", "prices": { "input_per_mtok": 1.50 } }]
            }
            """;
        var file = _temp.File("tenancy.json");
        await File.WriteAllTextAsync(file, definitions);

        var directory = await Directories.OpenAsync(_temp.DatabasePath, file: file);

        Assert.True(directory.TryAuthenticate(key, out var principal));
        Assert.Equal(10, principal.Limits.RequestsPerMinute);
        Assert.True(directory.TryGetPolicyJson("tenant_x", "sticky", out var policy));
        AssertSameJson(File.ReadAllText(FixturePolicy("sticky_weights.json")), policy);
        Assert.Equal("""{"id":"p1","kind":"openai","prices":{"input_per_mtok":1.50}}""", Assert.Single(directory.Providers).Json);
    }

    [Fact]
    public async Task Load_DailyBudget_IsReadAndNarrowedAlongTheChain()
    {
        var file = _temp.File("tenancy.json");
        await File.WriteAllTextAsync(file, $$"""
            {"tenants":[{"id":"t","limits":{"daily_budget_usd":5.25,"monthly_budget_usd":100},
              "teams":[{"id":"t1","limits":{"daily_budget_usd":2.5} }],
              "keys":[{"key":"{{DemoKey}}","team_id":"t1","limits":{"daily_budget_usd":9} }] }] }
            """);

        var directory = await Directories.OpenAsync(_temp.DatabasePath, file: file);

        Assert.Equal(5.25m, directory.Snapshot.Tenants["t"].Limits.DailyBudgetUsd);
        Assert.True(directory.TryAuthenticate(DemoKey, out var principal));
        Assert.Equal(2.5m, principal.Limits.DailyBudgetUsd);
        Assert.Equal(100m, principal.Limits.MonthlyBudgetUsd);
    }

    [Fact]
    public async Task Seed_AtRestart_UpdatesFileEntriesButKeepsAnAdminRevocation()
    {
        var file = _temp.File("tenancy.json");
        await File.WriteAllTextAsync(file, $$"""
            {"tenants":[{"id":"t","limits":{"requests_per_minute":5},"keys":[{"key":"{{DemoKey}}"}]}]}
            """);
        var first = await Directories.OpenAsync(_temp.DatabasePath, file: file);
        await first.CreateTenantAsync("admin_made", null, null, TenancyLimits.None, CancellationToken.None);
        await first.RevokeKeyAsync("t", "demo", CancellationToken.None);
        await File.WriteAllTextAsync(file, $$"""
            {"tenants":[{"id":"t","limits":{"requests_per_minute":7},"keys":[{"key":"{{DemoKey}}"}]}]}
            """);

        var second = await Directories.OpenAsync(_temp.DatabasePath, file: file);

        Assert.Equal(7, second.Snapshot.Tenants["t"].Limits.RequestsPerMinute);
        Assert.Equal(ApiKeyStatus.Revoked, second.Authenticate(DemoKey, out _));
        Assert.True(second.TryGetTenant("admin_made", out _));
    }

    [Fact]
    public async Task Seed_FileKeyIdTakenByAnotherTenant_FailsStart()
    {
        var file = _temp.File("tenancy.json");
        await File.WriteAllTextAsync(file, $$"""{"tenants":[{"id":"a","keys":[{"key":"{{DemoKey}}"}]}]}""");
        await Directories.OpenAsync(_temp.DatabasePath, file: file);
        await File.WriteAllTextAsync(file, $$"""{"tenants":[{"id":"b","keys":[{"key":"{{DemoKey}}"}]}]}""");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Directories.OpenAsync(_temp.DatabasePath, file: file));
        Assert.Contains("another tenant", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"tenants":[{"id":"t","limits":{"requests_per_minute":-1}}]}""", "tenants[0].limits.requests_per_minute")]
    [InlineData("""{"tenants":[{"id":"t","limits":{"rpm":5}}]}""", "tenants[0].limits.rpm")]
    [InlineData("""{"tenants":[{"id":"t","limits":{"daily_budget_usd":-0.01}}]}""", "tenants[0].limits.daily_budget_usd")]
    [InlineData("""{"tenants":[{"id":"t","limits":{"daily_budget_usd":"5"}}]}""", "tenants[0].limits.daily_budget_usd")]
    [InlineData("""{"tenants":[{"id":"bad id"}]}""", "tenants[0].id")]
    [InlineData("""{"tenants":[{"id":".."}]}""", "tenants[0].id")]
    [InlineData("""{"tenants":[{"id":"t","teams":[{"id":"."}]}]}""", "tenants[0].teams[0].id")]
    [InlineData("""{"tenants":[{"id":"t","keys":[{"key":"bl_short"}]}]}""", "tenants[0].keys[0].key")]
    [InlineData("""{"tenants":[{"id":"t","keys":[{"id":"k","key_hash":"abc"}]}]}""", "tenants[0].keys[0].key_hash")]
    [InlineData("""{"tenants":[{"id":"t","keys":[{"id":"k","key_hash":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU","team_id":"nope"}]}]}""", "tenants[0].keys[0].team_id")]
    [InlineData("""{"tenants":[{"id":"t","policies":[{"id":"p","json":[1]}]}]}""", "tenants[0].policies[0].json")]
    [InlineData("""{"tenants":[{"id":"t","policies":[{"id":"p","file":"missing.json"}]}]}""", "tenants[0].policies[0].file")]
    [InlineData("""{"providers":[{"kind":"openai"}]}""", "providers[0].id")]
    [InlineData("""{"Beamline":{"Tenancy":{"tenants":[{"id":"t","name":5}]}}}""", "Beamline.Tenancy.tenants[0].name")]
    public async Task Load_InvalidEntry_FailsNamingTheField(string definitions, string field)
    {
        var file = _temp.File("tenancy.json");
        await File.WriteAllTextAsync(file, definitions);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Directories.OpenAsync(_temp.DatabasePath, file: file));
        Assert.Equal(field, Assert.IsType<TenancyException>(error.InnerException).Field);
    }

    private static void AssertSameJson(string expected, string actual)
    {
        using var a = JsonDocument.Parse(expected);
        using var b = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(a.RootElement, b.RootElement), actual);
    }
}
