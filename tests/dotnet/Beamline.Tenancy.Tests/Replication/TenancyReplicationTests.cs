using Beamline.Tenancy.Replication;
using Beamline.Tenancy.Tests.Infrastructure;

namespace Beamline.Tenancy.Tests.Replication;

/// <summary>
/// Replication between two directories (two control planes' databases) through entities, as the
/// JetStream KV replica carries them: a change on one is published as its entities; applying the
/// shared entities makes the other equal.
/// </summary>
public sealed class TenancyReplicationTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _a = new();
    private readonly TempDirectory _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public async Task ChangesOnA_AppliedOnB_KeyAuthenticatesAndPolicyIsThere()
    {
        var a = await Directories.OpenAsync(_a.DatabasePath);
        var b = await Directories.OpenAsync(_b.DatabasePath);
        var bucket = new Bucket();
        a.AttachReplica(bucket);

        await a.CreateTenantAsync("tenant_a", "A", "default", TenancyLimits.None, None);
        await a.CreateTeamAsync("tenant_a", "team_1", null, new TenancyLimits { RequestsPerMinute = 5 }, None);
        var key = await a.CreateKeyAsync("tenant_a", "team_1", "ci", null, TenancyLimits.None, None);
        await a.PutPolicyAsync("tenant_a", "default", """{"version":"1.0","providers":[]}""", None);
        Assert.True(await b.ApplyReplicaAsync(() => bucket.Entities, None));

        Assert.True(b.TryAuthenticate(key.Key, out var principal));
        Assert.Equal("team_1", principal.TeamId);
        Assert.Equal(5, b.Snapshot.Tenants["tenant_a"].Teams["team_1"].Limits.RequestsPerMinute);
        Assert.True(b.TryGetPolicyJson("tenant_a", "default", out _));
        // Applying the same state again changes nothing (no rebuild).
        Assert.False(await b.ApplyReplicaAsync(() => bucket.Entities, None));
    }

    [Fact]
    public async Task TenantDeletedOnA_ItsChildrenAreDeletedToo_AndLeaveB()
    {
        var a = await Directories.OpenAsync(_a.DatabasePath);
        var b = await Directories.OpenAsync(_b.DatabasePath);
        var bucket = new Bucket();
        a.AttachReplica(bucket);
        await a.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        var key = await a.CreateKeyAsync("tenant_a", null, null, null, TenancyLimits.None, None);
        await b.ApplyReplicaAsync(() => bucket.Entities, None);

        await a.DeleteTenantAsync("tenant_a", None);
        await b.ApplyReplicaAsync(() => bucket.Entities, None);

        Assert.Empty(bucket.Entities);
        Assert.False(b.TryGetTenant("tenant_a", out _));
        Assert.False(b.TryAuthenticate(key.Key, out _));
    }

    [Fact]
    public async Task OrphanEntities_AreLeftOut()
    {
        var b = await Directories.OpenAsync(_b.DatabasePath);
        var a = await Directories.OpenAsync(_a.DatabasePath);
        var bucket = new Bucket();
        a.AttachReplica(bucket);
        await a.CreateTenantAsync("tenant_a", null, null, TenancyLimits.None, None);
        await a.CreateTeamAsync("tenant_a", "team_1", null, TenancyLimits.None, None);
        // The team's entity arrived, its tenant's did not (yet), and one entity is garbage.
        var entities = bucket.Entities.Where(e => !e.Key.StartsWith("tenant/", StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => e.Value);
        entities["provider/p1"] = "{not json";

        await b.ApplyReplicaAsync(() => entities, None);

        Assert.Empty(b.Snapshot.Tenants);
        Assert.Empty(b.Snapshot.Providers);
    }

    /// <summary>The shared bucket, as the KV replica keeps it.</summary>
    private sealed class Bucket : ITenancyReplica
    {
        public Dictionary<string, string> Entities { get; } = new(StringComparer.Ordinal);

        public Task PublishAsync(IReadOnlyDictionary<string, string> puts, IReadOnlyCollection<string> deletes, CancellationToken cancellationToken)
        {
            foreach (var (key, json) in puts)
            {
                Entities[key] = json;
            }
            foreach (var key in deletes)
            {
                Entities.Remove(key);
            }
            return Task.CompletedTask;
        }
    }
}
