using System.Collections.Concurrent;

namespace Beamline.Audit.Tests;

/// <summary><see cref="AuditLog"/> on a real SQLite file: chaining, batching, restarts, queries.</summary>
public sealed class AuditLogTests : IDisposable
{
    private readonly AuditTestDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Append_FromManyThreadsAtOnce_LeavesAnIntactContiguousChain()
    {
        const int Threads = 16;
        const int PerThread = 500;
        await using (var log = AuditLog.Open(new AuditOptions { DataDirectory = _dir.Path, QueueCapacity = 64, MaxBatch = 50 }))
        {
            await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    var record = AuditTestDirectory.Record(i, "tenant-" + t);
                    if (i % 2 == 0)
                    {
                        log.Append(record);
                    }
                    else
                    {
                        await log.AppendAsync(record, CancellationToken.None);
                    }
                }
            })));
            await log.FlushAsync(CancellationToken.None);
            Assert.Equal(Threads * PerThread, log.Head.Seq);
        }

        var result = AuditVerifier.Verify(_dir.Path);
        Assert.True(result.Ok, result.Problem);
        Assert.Equal(Threads * PerThread, result.Entries);
        await using var reopened = _dir.Open();
        for (var t = 0; t < Threads; t++)
        {
            Assert.Equal(PerThread, ReadAll(reopened, "tenant-" + t).Count);
        }
    }

    [Fact]
    public async Task Open_AfterRestart_ContinuesTheChain()
    {
        await _dir.WriteAsync(10);
        AuditHead before;
        await using (var log = _dir.Open())
        {
            before = log.Head;
            log.Append(AuditTestDirectory.Record(10));
            await log.FlushAsync(CancellationToken.None);
            Assert.Equal(11, log.Head.Seq);
            var entry = log.Query(null, 10, 10).Entries.Single();
            Assert.Equal(before.Hash, entry.PrevHash);
            Assert.Equal(AuditHash.Compute(entry), entry.Hash);
        }

        Assert.Equal(10, before.Seq);
        var result = AuditVerifier.Verify(_dir.Path);
        Assert.True(result.Ok, result.Problem);
        Assert.Equal(11, result.Entries);
    }

    [Fact]
    public async Task Append_TwoLogsOnOneFile_InterleaveIntoOneIntactChain()
    {
        await using (var first = _dir.Open(maxBatch: 3))
        await using (var second = _dir.Open(maxBatch: 5))
        {
            await Task.WhenAll(
                Task.Run(() => { for (var i = 0; i < 300; i++) { first.Append(AuditTestDirectory.Record(i, "one")); } }),
                Task.Run(() => { for (var i = 0; i < 300; i++) { second.Append(AuditTestDirectory.Record(i, "two")); } }));
        }

        var result = AuditVerifier.Verify(_dir.Path);
        Assert.True(result.Ok, result.Problem);
        Assert.Equal(600, result.Entries);
    }

    [Fact]
    public async Task Append_StoresEveryFieldAndMillisecondUtcTime()
    {
        var time = new DateTimeOffset(2025, 3, 4, 5, 6, 7, 890, TimeSpan.FromHours(2)).AddTicks(1234);
        await using var log = _dir.Open();
        log.Append(new AuditRecord
        {
            Time = time,
            Kind = AuditKinds.Admin,
            Status = "201",
            Action = "POST /admin/v1/tenants",
            Actor = "admin",
            RequestSha256 = new string('a', 64),
        });
        await log.FlushAsync(CancellationToken.None);

        var entry = log.Query(null, 0, 10).Entries.Single();
        Assert.Equal(1, entry.Seq);
        Assert.Equal(time.ToUnixTimeMilliseconds(), entry.Time.ToUnixTimeMilliseconds());
        Assert.Equal(TimeSpan.Zero, entry.Time.Offset);
        Assert.Equal(0, entry.Time.Ticks % TimeSpan.TicksPerMillisecond);
        Assert.Equal("admin", entry.Kind);
        Assert.Null(entry.TenantId);
        Assert.Equal("POST /admin/v1/tenants", entry.Action);
        Assert.Equal("201", entry.Status);
        Assert.Equal(AuditHash.Genesis, entry.PrevHash);
        Assert.Equal(64, entry.Hash.Length);
    }

    [Fact]
    public async Task Query_PagesInOrderWithACursor_AndKeepsToOneTenant()
    {
        await _dir.WriteAsync(30); // tenants t0, t1, t2 in turn
        await using var log = _dir.Open();

        var seen = new List<AuditEntry>();
        long after = 0;
        var pages = 0;
        while (true)
        {
            var page = log.Query("t1", after, 4);
            seen.AddRange(page.Entries);
            pages++;
            if (page.NextAfter is not { } next)
            {
                break;
            }
            Assert.Equal(page.Entries[^1].Seq, next);
            after = next;
        }

        Assert.Equal(10, seen.Count);
        Assert.Equal(3, pages);
        Assert.All(seen, e => Assert.Equal("t1", e.TenantId));
        Assert.Equal(seen.Select(e => e.Seq).Order(), seen.Select(e => e.Seq));
        Assert.Equal(30, ReadAll(log, null).Count);
        Assert.Empty(log.Query("nobody", 0, 10).Entries);
        var executions = log.Query("t1", 0, 100, AuditKinds.Execution).Entries;
        Assert.Equal(10, executions.Count); // i % 3 == 1: tenant t1 and kind execution together
        Assert.Empty(log.Query("t0", 0, 100, AuditKinds.Execution).Entries);
    }

    [Fact]
    public async Task Open_TailDropped_KeepsTheEvidenceSoVerifyStillFailsAfterNewEntries()
    {
        await _dir.WriteAsync(20);
        _dir.Tamper("DELETE FROM audit WHERE seq > 15;");

        await using (var log = _dir.Open())
        {
            Assert.Equal(15, log.Head.Seq);
            for (var i = 0; i < 10; i++)
            {
                log.Append(AuditTestDirectory.Record(i));
            }
        }

        var result = AuditVerifier.Verify(_dir.Path);
        Assert.False(result.Ok);
        Assert.Equal(16, result.FirstBadSeq);
        Assert.Contains("16 to 20 were removed", result.Problem, StringComparison.Ordinal);
        Assert.Contains("audit.head.broken", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_HeadFileDeleted_KeepsTheEvidenceSoVerifyStillFails()
    {
        await _dir.WriteAsync(5);
        File.Delete(_dir.HeadPath);

        await _dir.WriteAsync(3);

        var result = AuditVerifier.Verify(_dir.Path);
        Assert.False(result.Ok);
        Assert.Contains("audit.head is missing", result.Problem, StringComparison.Ordinal);
        Assert.Contains("audit.head.broken", result.Problem, StringComparison.Ordinal);
        Assert.Equal(8, result.Entries);
    }

    [Fact]
    public async Task Open_AfterTheBreakIsMovedAside_VerifiesAgain()
    {
        await _dir.WriteAsync(5);
        _dir.Tamper("DELETE FROM audit WHERE seq = 5;");
        await _dir.WriteAsync(2);
        Assert.False(AuditVerifier.Verify(_dir.Path).Ok);

        File.Move(Path.Combine(_dir.Path, "audit.head.broken"), Path.Combine(_dir.Path, "audit.head.broken.reviewed"));

        var result = AuditVerifier.Verify(_dir.Path);
        Assert.True(result.Ok, result.Problem);
        Assert.Equal(6, result.Entries);
    }

    [Fact]
    public async Task Open_HeadFileBehindTheTable_AnchorsAgainAndStaysIntact()
    {
        await _dir.WriteAsync(5);
        var behind = await File.ReadAllTextAsync(_dir.HeadPath);
        await _dir.WriteAsync(3);
        // A stop between the commit and the head file's replacement leaves the head behind.
        await File.WriteAllTextAsync(_dir.HeadPath, behind);
        var before = AuditVerifier.Verify(_dir.Path);

        await using (var log = _dir.Open())
        {
            Assert.Equal(8, log.Head.Seq);
        }

        Assert.True(before.Ok, before.Problem);
        Assert.NotNull(before.Warning);
        var after = AuditVerifier.Verify(_dir.Path);
        Assert.True(after.Ok, after.Problem);
        Assert.Null(after.Warning);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "audit.head.broken")));
    }

    [Fact]
    public async Task Append_ToAFullQueue_WaitsAndLosesNothing()
    {
        await using (var log = AuditLog.Open(new AuditOptions { DataDirectory = _dir.Path, QueueCapacity = 1, MaxBatch = 1 }))
        {
            for (var i = 0; i < 200; i++)
            {
                log.Append(AuditTestDirectory.Record(i));
            }
        }

        Assert.Equal(200, AuditVerifier.Verify(_dir.Path).Entries);
    }

    [Fact]
    public async Task Append_AfterDispose_Throws()
    {
        var log = _dir.Open();
        await log.DisposeAsync();

        Assert.Throws<InvalidOperationException>(() => log.Append(AuditTestDirectory.Record(0)));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await log.AppendAsync(AuditTestDirectory.Record(0), CancellationToken.None));
    }

    [Fact]
    public async Task Append_UnknownKind_Throws()
    {
        await using var log = _dir.Open();

        Assert.Throws<ArgumentException>(() => log.Append(new AuditRecord { Kind = "gossip", Status = "ok" }));
    }

    [Fact]
    public async Task Publisher_GetsTheHeadAfterEveryBatch()
    {
        var publisher = new RecordingPublisher();
        await using (var log = _dir.Open(publisher: publisher))
        {
            log.Append(AuditTestDirectory.Record(0));
            await log.FlushAsync(CancellationToken.None);
            log.Append(AuditTestDirectory.Record(1));
            await log.FlushAsync(CancellationToken.None);
            Assert.Equal(log.Head, publisher.Heads.Last());
        }

        Assert.Equal([1L, 2L], publisher.Heads.Select(h => h.Seq));
        Assert.Equal(AuditVerifier.Verify(_dir.Path).Head!.Hash, publisher.Heads.Last().Hash);
    }

    [Fact]
    public void Sha256Hex_IsLowercaseHexOfTheBytes()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", AuditHash.Sha256Hex([]));
    }

    [Fact]
    public void Compute_StringsThatWouldRunTogether_HashApart()
    {
        var a = new AuditEntry { Seq = 1, Time = default, Kind = "admin", Status = "ok", KeyId = "ab", RequestId = "c", PrevHash = AuditHash.Genesis, Hash = "" };
        var b = a with { KeyId = "a", RequestId = "bc" };
        var c = a with { KeyId = null, RequestId = "abc" };

        Assert.NotEqual(AuditHash.Compute(a), AuditHash.Compute(b));
        Assert.NotEqual(AuditHash.Compute(b), AuditHash.Compute(c));
        Assert.NotEqual(AuditHash.Compute(a with { KeyId = "" }), AuditHash.Compute(a with { KeyId = null }));
    }

    private static List<AuditEntry> ReadAll(AuditLog log, string? tenant)
    {
        var all = new List<AuditEntry>();
        long after = 0;
        while (true)
        {
            var page = log.Query(tenant, after, AuditLog.MaxPageSize);
            all.AddRange(page.Entries);
            if (page.NextAfter is not { } next)
            {
                return all;
            }
            after = next;
        }
    }

    private sealed class RecordingPublisher : IAuditHeadPublisher
    {
        private readonly ConcurrentQueue<AuditHead> _heads = new();

        public IReadOnlyList<AuditHead> Heads => [.. _heads];

        public void Publish(AuditHead head) => _heads.Enqueue(head);
    }
}
