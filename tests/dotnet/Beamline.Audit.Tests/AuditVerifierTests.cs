namespace Beamline.Audit.Tests;

/// <summary>Each kind of tampering on a real SQLite file written by <see cref="AuditLog"/>, caught by <see cref="AuditVerifier"/>.</summary>
public sealed class AuditVerifierTests : IDisposable
{
    private const string AllButSeq = "time, kind, tenant_id, key_id, request_id, provider_id, policy_id, status, cost_nanos, "
        + "input_tokens, output_tokens, request_sha256, response_sha256, action, actor, prev_hash, hash";

    private readonly AuditTestDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Verify_IntactLog_IsOkWithEveryEntryAndTheHead()
    {
        await _dir.WriteAsync(50, maxBatch: 7);

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.True(result.Ok, result.Problem);
        Assert.Equal(50, result.Entries);
        Assert.Null(result.FirstBadSeq);
        Assert.Equal(50, result.Head!.Seq);
        Assert.Contains(result.Head.Hash, await File.ReadAllTextAsync(_dir.HeadPath), StringComparison.Ordinal);
        Assert.Null(result.Warning);
    }

    [Fact]
    public async Task Verify_EmptyLog_IsOk()
    {
        await _dir.WriteAsync(0);

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.True(result.Ok, result.Problem);
        Assert.Equal(0, result.Entries);
    }

    [Theory]
    [InlineData("cost_nanos = 1")]
    [InlineData("status = 'denied'")]
    [InlineData("tenant_id = 't9'")]
    [InlineData("tenant_id = NULL")]
    [InlineData("time = time + 1")]
    [InlineData("response_sha256 = 'ab'")]
    public async Task Verify_EditedCell_NamesTheEditedEntry(string change)
    {
        await _dir.WriteAsync(20);
        _dir.Tamper($"UPDATE audit SET {change} WHERE seq = 12;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(12, result.FirstBadSeq);
        Assert.Contains("edited", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_EditedCellWithItsHashRecomputed_BreaksTheLinkOfTheNextEntry()
    {
        await _dir.WriteAsync(20);
        var entry = (await ReadAsync(12)) with { CostNanos = 1 };
        _dir.Tamper($"UPDATE audit SET cost_nanos = 1, hash = '{AuditHash.Compute(entry)}' WHERE seq = 12;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(13, result.FirstBadSeq);
        Assert.Contains("does not link", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_DeletedMiddleRow_NamesTheMissingEntry()
    {
        await _dir.WriteAsync(20);
        _dir.Tamper("DELETE FROM audit WHERE seq = 7;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(7, result.FirstBadSeq);
        Assert.Equal(6, result.Entries);
        Assert.Contains("missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_DeletedRowWithLaterEntriesRenumbered_NamesTheFirstRenumberedEntry()
    {
        await _dir.WriteAsync(20);
        _dir.Tamper("DELETE FROM audit WHERE seq = 7; UPDATE audit SET seq = seq - 1 WHERE seq > 7;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(7, result.FirstBadSeq);
    }

    [Fact]
    public async Task Verify_TwoRowsSwapped_NamesTheFirstOfThem()
    {
        await _dir.WriteAsync(20);
        // Every column but seq exchanged between entries 5 and 9, through a scratch copy.
        _dir.Tamper($"""
            CREATE TEMP TABLE scratch AS SELECT * FROM audit WHERE seq IN (5, 9);
            UPDATE audit SET ({AllButSeq}) = (SELECT {AllButSeq} FROM scratch WHERE scratch.seq = 14 - audit.seq) WHERE seq IN (5, 9);
            """);
        Assert.Equal("req-8", (await ReadAsync(5)).RequestId);

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(5, result.FirstBadSeq);
        Assert.Contains("reordered", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_TailDropped_NamesTheFirstDroppedEntryFromTheHeadFile()
    {
        await _dir.WriteAsync(20);
        _dir.Tamper("DELETE FROM audit WHERE seq > 16;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(17, result.FirstBadSeq);
        Assert.Equal(16, result.Entries);
        Assert.Contains("17 to 20 were removed", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_EveryRowDeleted_NamesEntryOne()
    {
        await _dir.WriteAsync(5);
        _dir.Tamper("DELETE FROM audit;");

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(1, result.FirstBadSeq);
    }

    [Fact]
    public async Task Verify_HeadFileDeleted_IsBroken()
    {
        await _dir.WriteAsync(5);
        File.Delete(_dir.HeadPath);

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Null(result.FirstBadSeq);
        Assert.Contains("audit.head is missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_HeadFileGarbled_IsBroken()
    {
        await _dir.WriteAsync(5);
        await File.WriteAllTextAsync(_dir.HeadPath, "{not json");

        Assert.False(AuditVerifier.Verify(_dir.Path).Ok);
    }

    [Fact]
    public async Task Verify_TailDroppedAndChainRewrittenToMatch_IsCaughtByTheHeadHash()
    {
        await _dir.WriteAsync(20);
        var head = await File.ReadAllTextAsync(_dir.HeadPath);
        // Drop the tail, then forge entries 17..20 that chain correctly but differ from the originals.
        _dir.Tamper("DELETE FROM audit WHERE seq > 16;");
        await using (var log = _dir.Open())
        {
            for (var i = 0; i < 4; i++)
            {
                log.Append(AuditTestDirectory.Record(100 + i));
            }
        }
        await File.WriteAllTextAsync(_dir.HeadPath, head);
        File.Delete(Path.Combine(_dir.Path, "audit.head.broken"));

        var result = AuditVerifier.Verify(_dir.Path);

        Assert.False(result.Ok);
        Assert.Equal(20, result.FirstBadSeq);
        Assert.Contains("rewritten", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_NoDatabase_Throws()
    {
        Assert.Throws<FileNotFoundException>(() => AuditVerifier.Verify(_dir.Path));
    }

    private async Task<AuditEntry> ReadAsync(long seq)
    {
        await using var log = _dir.Open();
        return log.Query(null, seq - 1, 1).Entries.Single();
    }
}
