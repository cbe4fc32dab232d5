using BenchmarkDotNet.Attributes;
using Beamline.Dispatch;
using Beamline.Dispatch.InProcess;
using Beamline.Interop.Exec;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Benchmarks;

/// <summary>
/// In-process block execution through P/Invoke (target: echo under 1 µs median per call).
/// <c>RawEcho</c> is the C ABI call alone (encoded request in, encoded result out);
/// <c>DispatchEcho</c> adds what the control plane does around it: admission, protobuf encode and decode.
/// </summary>
[MemoryDiagnoser]
public class InProcessExecBenchmarks
{
    private ExecRuntime _runtime = null!;
    private InProcessBlockDispatcher _dispatcher = null!;
    private byte[] _echoRequest = null!;
    private byte[] _noopRequest = null!;
    private ExecRequest _echo = null!;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = ExecRuntime.Create();
        _dispatcher = new InProcessBlockDispatcher(Options.Create(new DispatchOptions()), NullLogger<InProcessBlockDispatcher>.Instance);
        _echo = new ExecRequest
        {
            BlockId = "bench-0001",
            TenantId = "bench",
            Type = "echo",
            Pool = "cpu",
            Payload = ByteString.CopyFrom(new byte[200]),
            DeadlineMs = 10_000,
        };
        _echoRequest = _echo.ToByteArray();
        var noop = _echo.Clone();
        noop.Type = "noop";
        _noopRequest = noop.ToByteArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dispatcher.Dispose();
        _runtime.Dispose();
    }

    [Benchmark(Baseline = true)]
    public byte[] RawNoop() => _runtime.Execute(_noopRequest);

    [Benchmark]
    public byte[] RawEcho() => _runtime.Execute(_echoRequest);

    [Benchmark]
    public ExecResult DispatchEcho() => _dispatcher.DispatchAsync(_echo, CancellationToken.None).Result;
}
