using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Beamline.Audit;

namespace Beamline.Benchmarks;

/// <summary>
/// The audit chain's throughput end to end (target: ≥ 20,000 entries/s with <c>synchronous=FULL</c>):
/// 200,000 appends from 4 callers into a fresh log on disk, then close, which drains the queue,
/// so every entry is hashed, committed in batches (one fsync each) and anchored in the head file.
/// One operation is one entry: entries/s = 1 s / the reported mean.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class AuditAppendBenchmarks
{
    private const int Entries = 200_000;
    private const int Callers = 4;

    private string _directory = "";
    private AuditRecord[] _records = [];

    [Params(1024, 4096)]
    public int MaxBatch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _records = new AuditRecord[Entries];
        for (var i = 0; i < Entries; i++)
        {
            _records[i] = new AuditRecord
            {
                Kind = AuditKinds.Execution,
                TenantId = "tenant_" + (i % 50),
                KeyId = "key_" + (i % 200),
                RequestId = Guid.NewGuid().ToString(),
                ProviderId = "openai",
                PolicyId = "default",
                Status = "ok",
                CostNanos = 1_250_000 + i,
                InputTokens = 512,
                OutputTokens = 128,
                RequestSha256 = AuditHash.Sha256Hex(BitConverter.GetBytes(i)),
                ResponseSha256 = AuditHash.Sha256Hex(BitConverter.GetBytes(-i)),
            };
        }
    }

    [IterationSetup]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("beamline-audit-bench-").FullName;

    [IterationCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Benchmark(OperationsPerInvoke = Entries)]
    public void AppendAndClose()
    {
        using var log = AuditLog.Open(new AuditOptions { DataDirectory = _directory, MaxBatch = MaxBatch });
        Parallel.For(0, Callers, new ParallelOptions { MaxDegreeOfParallelism = Callers }, caller =>
        {
            for (var i = caller; i < Entries; i += Callers)
            {
                log.Append(_records[i]);
            }
        });
    }
}
