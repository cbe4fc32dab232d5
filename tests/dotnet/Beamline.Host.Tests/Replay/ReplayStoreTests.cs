using Beamline.Host.Replay;
using Beamline.Pipeline;
using Beamline.Pipeline.Costs;
using Microsoft.Data.Sqlite;

namespace Beamline.Host.Tests.Replay;

/// <summary><see cref="ReplayStore"/> on a real SQLite file.</summary>
public sealed class ReplayStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Noon = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly string _directory = Directory.CreateTempSubdirectory("beamline-replay-store-").FullName;
    private ReplayStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new ReplayStore(Path.Combine(_directory, ReplayStore.FileName));
        await _store.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    internal static ReplayRecord Record(string tenant, string id, DateTimeOffset at) => new()
    {
        TenantId = tenant,
        RequestId = id,
        At = at,
        Face = "openai",
        Format = WireFormat.OpenAIChat,
        PolicyId = null,
        UsedPolicyId = "chat",
        ProviderId = "mock_echo",
        Model = "mock-1",
        RequestKind = PayloadKind.Json,
        RequestBody = """{"messages":[{"role":"user","content":"hi"}]}"""u8.ToArray(),
        ResponseBody = """{"choices":[{"message":{"content":"Echo: hi"}}]}"""u8.ToArray(),
        Metadata = new Dictionary<string, string> { ["gateway_model"] = "chat" },
        Usage = new TokenUsage(10, 4, 2, Estimated: true),
        CostNanos = 1_234,
    };

    [Fact]
    public async Task Write_ThenFind_ReadsBackEveryColumn()
    {
        var written = Record("acme", "r1", Noon);
        await _store.WriteAsync([written], CancellationToken.None);

        var found = Assert.Single(await _store.FindAsync("r1", null, Noon.AddHours(-1), CancellationToken.None));
        Assert.Equal(written with { Metadata = found.Metadata, RequestBody = found.RequestBody, ResponseBody = found.ResponseBody }, found);
        Assert.Equal(written.RequestBody, found.RequestBody);
        Assert.Equal(written.ResponseBody, found.ResponseBody);
        Assert.Equal("chat", found.Metadata["gateway_model"]);
    }

    [Fact]
    public async Task Initialize_UsesWal()
    {
        await using var connection = new SqliteConnection($"Data Source={_store.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Find_OlderThanRetention_IsNotFoundEvenBeforeThePurge()
    {
        await _store.WriteAsync([Record("acme", "old", Noon.AddDays(-2))], CancellationToken.None);

        Assert.Empty(await _store.FindAsync("old", null, Noon.AddDays(-1), CancellationToken.None));
        Assert.Single(await _store.FindAsync("old", null, Noon.AddDays(-3), CancellationToken.None));
    }

    [Fact]
    public async Task Find_SameIdOfTwoTenants_ReturnsBothUnlessOneIsNamed()
    {
        await _store.WriteAsync([Record("acme", "shared", Noon), Record("beta", "shared", Noon)], CancellationToken.None);

        Assert.Equal(2, (await _store.FindAsync("shared", null, Noon.AddHours(-1), CancellationToken.None)).Count);
        Assert.Equal("beta", Assert.Single(await _store.FindAsync("shared", "beta", Noon.AddHours(-1), CancellationToken.None)).TenantId);
    }

    [Fact]
    public async Task Write_SameIdAgain_ReplacesTheRow()
    {
        await _store.WriteAsync([Record("acme", "again", Noon)], CancellationToken.None);
        await _store.WriteAsync([Record("acme", "again", Noon.AddMinutes(1)) with { Status = "decision_failed" }], CancellationToken.None);

        Assert.Equal("decision_failed", Assert.Single(await _store.FindAsync("again", "acme", Noon, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Purge_DeletesOnlyRowsBeforeTheCutoff()
    {
        await _store.WriteAsync([Record("acme", "a", Noon.AddHours(-30)), Record("acme", "b", Noon.AddHours(-25)), Record("acme", "c", Noon)], CancellationToken.None);

        Assert.Equal(2, await _store.PurgeAsync(Noon.AddHours(-24), CancellationToken.None));

        var since = DateTimeOffset.UnixEpoch;
        Assert.Empty(await _store.FindAsync("a", null, since, CancellationToken.None));
        Assert.Empty(await _store.FindAsync("b", null, since, CancellationToken.None));
        Assert.Single(await _store.FindAsync("c", null, since, CancellationToken.None));
    }

    [Fact]
    public async Task FindIdsWithPrefix_TakesPercentAndUnderscoreLiterally()
    {
        await _store.WriteAsync([Record("acme", "replay-a_b-1", Noon), Record("acme", "replay-aXb-1", Noon), Record("beta", "replay-a_b-2", Noon)],
            CancellationToken.None);

        Assert.Equal(["replay-a_b-1"], await _store.FindIdsWithPrefixAsync("acme", "replay-a_b-", CancellationToken.None));
    }
}
