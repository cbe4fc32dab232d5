using Beamline.Tenancy.ApiKeys;
using Beamline.Tenancy.Tests.Infrastructure;
using Microsoft.Extensions.Primitives;

namespace Beamline.Tenancy.Tests;

public sealed class TenantDirectoryTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Authenticate_CreatedKey_ReturnsItsPrincipal()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", "A", "default", TenancyLimits.None, None);
        await directory.CreateTeamAsync("tenant_a", "team_1", null, TenancyLimits.None, None);
        var created = await directory.CreateKeyAsync("tenant_a", "team_1", "ci", null, TenancyLimits.None, None);

        Assert.True(directory.TryAuthenticate(created.Key, out var principal));
        Assert.Equal("tenant_a", principal.TenantId);
        Assert.Equal("team_1", principal.TeamId);
        Assert.Equal(created.Info.KeyId, principal.KeyId);
        Assert.Equal("default", principal.DefaultPolicyId);
    }

    [Fact]
    public async Task Authenticate_WrongSecret_ReturnsWrongSecret()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var created = await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
        var forged = ApiKeyFormat.Create(created.Info.KeyId);

        Assert.Equal(ApiKeyStatus.WrongSecret, directory.Authenticate(forged, out var principal));
        Assert.Null(principal);
        Assert.False(directory.TryAuthenticate(forged, out _));
    }

    [Fact]
    public async Task Authenticate_UnknownKeyId_ReturnsUnknownKey()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);

        Assert.Equal(ApiKeyStatus.UnknownKey, directory.Authenticate(ApiKeyFormat.Create("nobody"), out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Bearer x")]
    [InlineData("bl_x_short")]
    [InlineData("bl_\u0000_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw")]
    public async Task Authenticate_MalformedKey_ReturnsMalformedWithoutThrowing(string key)
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);

        Assert.Equal(ApiKeyStatus.Malformed, directory.Authenticate(key, out _));
    }

    [Fact]
    public async Task Authenticate_RevokedKey_FailsImmediately()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var created = await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
        Assert.True(directory.TryAuthenticate(created.Key, out _));

        var revoked = await directory.RevokeKeyAsync("tenant_a", created.Info.KeyId, None);

        Assert.Equal(ApiKeyStatus.Revoked, directory.Authenticate(created.Key, out _));
        Assert.NotNull(revoked.RevokedAt);
    }

    [Fact]
    public async Task Authenticate_ExpiredKey_ReturnsExpired()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var directory = await Directories.OpenAsync(_temp.DatabasePath, time: clock);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var created = await directory.CreateKeyAsync("tenant_a", null, null, clock.Now.AddHours(1), TenancyLimits.None, None);
        Assert.True(directory.TryAuthenticate(created.Key, out _));

        clock.Now = clock.Now.AddHours(1);

        Assert.Equal(ApiKeyStatus.Expired, directory.Authenticate(created.Key, out _));
    }

    [Fact]
    public async Task CreateKey_ExpiryInThePast_IsRefused()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);

        var error = await Assert.ThrowsAsync<TenancyException>(() =>
            directory.CreateKeyAsync("tenant_a", null, null, DateTimeOffset.UtcNow.AddMinutes(-1), TenancyLimits.None, None));
        Assert.Equal("expires_at", error.Field);
    }

    [Fact]
    public async Task Authenticate_ValidKey_DoesNotAllocate()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var key = (await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None)).Key;
        for (var i = 0; i < 100; i++)
        {
            directory.TryAuthenticate(key, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            directory.TryAuthenticate(key, out _);
            directory.TryAuthenticate("bl_nope_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw", out _);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task Principal_KeyTeamTenantLimits_AreInheritedAndNarrowed()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, new TenancyLimits
        {
            RequestsPerMinute = 600,
            TokensPerMinute = 100_000,
            MonthlyBudgetUsd = 50m,
            AllowedProviders = ["openai", "anthropic"],
        }, None);
        await directory.CreateTeamAsync("tenant_a", "team_1", null, new TenancyLimits { RequestsPerMinute = 60 }, None);
        var teamKey = await directory.CreateKeyAsync("tenant_a", "team_1", null, null, TenancyLimits.None, None);
        var ownKey = await directory.CreateKeyAsync("tenant_a", "team_1", null, null,
            new TenancyLimits { RequestsPerMinute = 6_000, MaxConcurrentRequests = 2, AllowedProviders = ["anthropic"] }, None);
        var tenantKey = await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);

        Assert.True(directory.TryAuthenticate(teamKey.Key, out var team));
        Assert.Equal(60, team.Limits.RequestsPerMinute);
        Assert.Equal(100_000, team.Limits.TokensPerMinute);
        Assert.Equal(50m, team.Limits.MonthlyBudgetUsd);
        Assert.Null(team.Limits.MaxConcurrentRequests);

        Assert.True(directory.TryAuthenticate(ownKey.Key, out var own));
        Assert.Equal(60, own.Limits.RequestsPerMinute);
        Assert.Equal(2, own.Limits.MaxConcurrentRequests);
        Assert.Equal(["anthropic"], own.Limits.AllowedProviders!.Value.ToArray());

        Assert.True(directory.TryAuthenticate(tenantKey.Key, out var tenant));
        Assert.Equal(600, tenant.Limits.RequestsPerMinute);
    }

    [Fact]
    public async Task Principal_AfterTenantLimitChange_IsRecomputed()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, new TenancyLimits { RequestsPerMinute = 600 }, None);
        var key = (await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None)).Key;

        await directory.UpdateTenantAsync("tenant_a", null, "cheap", new TenancyLimits { RequestsPerMinute = 10 }, None);

        Assert.True(directory.TryAuthenticate(key, out var principal));
        Assert.Equal(10, principal.Limits.RequestsPerMinute);
        Assert.Equal("cheap", principal.DefaultPolicyId);
    }

    [Fact]
    public async Task Isolation_KeyOfTenantA_NeverReadsTenantB()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, "shared_name", TenancyLimits.None, None);
        await directory.CreateTenantAsync("tenant_b", null, "shared_name", TenancyLimits.None, None);
        await directory.PutPolicyAsync("tenant_a", "shared_name", """{"providers":[{"name":"a","weight":1}]}""", None);
        await directory.PutPolicyAsync("tenant_b", "shared_name", """{"providers":[{"name":"b","weight":1}]}""", None);
        await directory.PutPolicyAsync("tenant_b", "b_only", """{"providers":[]}""", None);
        var keyA = await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
        var keyB = await directory.CreateKeyAsync("tenant_b", null, null, null, TenancyLimits.None, None);

        Assert.True(directory.TryAuthenticate(keyA.Key, out var principal));
        Assert.Equal("tenant_a", principal.TenantId);
        Assert.True(directory.TryGetPolicyJson(principal.TenantId, "shared_name", out var json));
        Assert.Contains("\"a\"", json, StringComparison.Ordinal);
        Assert.False(directory.TryGetPolicyJson(principal.TenantId, "b_only", out _));
        // A key id is global: tenant A cannot see, revoke or list tenant B's keys.
        Assert.False(directory.TryGetKey("tenant_a", keyB.Info.KeyId, out _));
        Assert.DoesNotContain(directory.Snapshot.KeysOf("tenant_a"), k => k.TenantId != "tenant_a");
        var error = await Assert.ThrowsAsync<TenancyException>(() => directory.RevokeKeyAsync("tenant_a", keyB.Info.KeyId, None));
        Assert.Equal(TenancyErrorCodes.KeyNotFound, error.Code);
        Assert.True(directory.TryAuthenticate(keyB.Key, out var b));
        Assert.Equal("tenant_b", b.TenantId);
    }

    [Fact]
    public async Task Isolation_KeyWithTeamOfAnotherTenant_IsRefused()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        await directory.CreateTenantAsync("tenant_b", null, null, TenancyLimits.None, None);
        await directory.CreateTeamAsync("tenant_b", "team_b", null, TenancyLimits.None, None);

        var error = await Assert.ThrowsAsync<TenancyException>(() =>
            directory.CreateKeyAsync("tenant_a", "team_b", null, null, TenancyLimits.None, None));
        Assert.Equal(TenancyErrorCodes.TeamNotFound, error.Code);
    }

    [Fact]
    public async Task Restart_SameDatabase_KeepsTenantsKeysRevocationsPoliciesAndProviders()
    {
        string key;
        string revokedKey;
        {
            var first = await Directories.OpenAsync(_temp.DatabasePath);
            await first.CreateTenantAsync("tenant_a", "A", "default", new TenancyLimits { RequestsPerMinute = 5 }, None);
            await first.PutPolicyAsync("tenant_a", "default", """{"version":"1.0"}""", None);
            await first.PutProviderAsync("openai", """{"id":"openai","kind":"openai"}""", None);
            key = (await first.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None)).Key;
            var revoked = await first.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
            await first.RevokeKeyAsync("tenant_a", revoked.Info.KeyId, None);
            revokedKey = revoked.Key;
        }

        var second = await Directories.OpenAsync(_temp.DatabasePath);

        Assert.True(second.TryAuthenticate(key, out var principal));
        Assert.Equal(5, principal.Limits.RequestsPerMinute);
        Assert.Equal(ApiKeyStatus.Revoked, second.Authenticate(revokedKey, out _));
        Assert.True(second.TryGetPolicyJson("tenant_a", "default", out var policy));
        Assert.Equal("""{"version":"1.0"}""", policy);
        Assert.Equal("openai", Assert.Single(second.Providers).Id);
    }

    [Fact]
    public async Task Restart_SameDatabase_KeepsDailyAndMonthlyBudgets()
    {
        {
            var first = await Directories.OpenAsync(_temp.DatabasePath);
            await first.CreateTenantAsync("tenant_a", null, null, new TenancyLimits { DailyBudgetUsd = 3.75m, MonthlyBudgetUsd = 40m }, None);
            await first.CreateTeamAsync("tenant_a", "team_1", null, new TenancyLimits { DailyBudgetUsd = 1.5m }, None);
        }

        var second = await Directories.OpenAsync(_temp.DatabasePath);

        var tenant = second.Snapshot.Tenants["tenant_a"];
        Assert.Equal(new TenancyLimits { DailyBudgetUsd = 3.75m, MonthlyBudgetUsd = 40m }, tenant.Limits);
        Assert.Equal(1.5m, tenant.Teams["team_1"].Limits.DailyBudgetUsd);
        Assert.Equal(40m, tenant.Teams["team_1"].EffectiveLimits.MonthlyBudgetUsd);
    }

    [Fact]
    public async Task Restart_WithoutConfiguredPepper_KeepsTheGeneratedOne()
    {
        var first = await Directories.OpenAsync(_temp.DatabasePath, pepper: null);
        await first.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var key = (await first.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None)).Key;

        var second = await Directories.OpenAsync(_temp.DatabasePath, pepper: null);

        Assert.True(second.TryAuthenticate(key, out _));
    }

    [Fact]
    public async Task Restart_WithAnotherPepper_NoStoredKeyAuthenticates()
    {
        var first = await Directories.OpenAsync(_temp.DatabasePath);
        await first.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var key = (await first.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None)).Key;

        var second = await Directories.OpenAsync(_temp.DatabasePath, pepper: "another-pepper-0123456789");

        Assert.Equal(ApiKeyStatus.WrongSecret, second.Authenticate(key, out _));
    }

    [Fact]
    public async Task Initialize_NewDatabase_IsMigratedToTheCurrentSchemaInWalMode()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.InitializeAsync(None);

        Assert.Equal(Storage.TenancySchema.CurrentVersion, await directory.Store.GetSchemaVersionAsync(None));
        Assert.Equal("wal", await directory.Store.GetJournalModeAsync(None));
    }

    [Fact]
    public async Task Initialize_DatabaseFromANewerBuild_IsRefused()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_temp.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 999;";
            await command.ExecuteNonQueryAsync();
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => Directories.OpenAsync(_temp.DatabasePath));
        Assert.NotNull(directory);
    }

    [Fact]
    public async Task ChangeToken_PolicyStored_FiresAndRoutingVersionMoves()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var fired = 0;
        using var subscription = ChangeToken.OnChange(directory.GetChangeToken, () => Interlocked.Increment(ref fired));
        var routingBefore = directory.Snapshot.RoutingVersion;

        await directory.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
        var routingAfterKey = directory.Snapshot.RoutingVersion;
        await directory.PutPolicyAsync("tenant_a", "p", "{}", None);

        Assert.Equal(2, Volatile.Read(ref fired));
        Assert.Equal(routingBefore, routingAfterKey);
        Assert.Equal(routingBefore + 1, directory.Snapshot.RoutingVersion);
    }

    [Fact]
    public async Task PutPolicy_NotAnObject_IsRefusedAndNothingStored()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);

        await Assert.ThrowsAsync<TenancyException>(() => directory.PutPolicyAsync("tenant_a", "p", "[1,2]", None));
        await Assert.ThrowsAsync<TenancyException>(() => directory.PutPolicyAsync("tenant_a", "p", "{not json", None));
        Assert.False(directory.TryGetPolicyJson("tenant_a", "p", out _));
    }

    [Fact]
    public async Task DeleteTenant_RemovesItsKeysTeamsAndPolicies()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        await directory.CreateTeamAsync("tenant_a", "t", null, TenancyLimits.None, None);
        await directory.PutPolicyAsync("tenant_a", "p", "{}", None);
        var key = (await directory.CreateKeyAsync("tenant_a", "t", null, null, TenancyLimits.None, None)).Key;

        await directory.DeleteTenantAsync("tenant_a", None);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);

        Assert.Equal(ApiKeyStatus.UnknownKey, directory.Authenticate(key, out _));
        Assert.Empty(directory.Snapshot.Tenants["tenant_a"].Teams);
        Assert.False(directory.TryGetPolicyJson("tenant_a", "p", out _));
    }

    [Fact]
    public async Task CreateTenant_ExistingId_IsAConflict()
    {
        var directory = await Directories.OpenAsync(_temp.DatabasePath);
        await directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);

        var error = await Assert.ThrowsAsync<TenancyException>(() => directory.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None));
        Assert.Equal(TenancyErrorKind.Conflict, error.Kind);
    }
}
