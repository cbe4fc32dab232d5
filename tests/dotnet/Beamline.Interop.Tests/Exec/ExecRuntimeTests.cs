using System.Buffers;
using System.Text;
using Beamline.Interop.Exec;
using Beamline.Interop.Tests.Infrastructure;
using Beamline.Worker.V2;
using Google.Protobuf;

namespace Beamline.Interop.Tests.Exec;

/// <summary>
/// Against the real libbeamline_exec.so (out/lib, built by CMake). A missing library fails every
/// test here with a message that says how to build it.
/// </summary>
public sealed class ExecRuntimeTests : IDisposable
{
    private readonly ExecRuntime _runtime = ExecRuntime.Create();

    public void Dispose() => _runtime.Dispose();

    [Fact]
    public void Execute_Echo_ReturnsPayload()
    {
        byte[] payload = Encoding.UTF8.GetBytes("hello, beamline");

        ExecResult result = Run(_runtime, new ExecRequest { BlockId = "b-1", Type = "echo", Payload = ByteString.CopyFrom(payload) });

        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.Equal(payload, result.Output.ToByteArray());
        Assert.Equal("b-1", result.BlockId);
        Assert.Equal("in-process", result.WorkerId);
    }

    [Fact]
    public void Execute_WithWorkerId_ReportsIt()
    {
        using ExecRuntime runtime = ExecRuntime.Create(workerId: "cp-7");

        ExecResult result = Run(runtime, new ExecRequest { Type = "noop" });

        Assert.Equal("cp-7", result.WorkerId);
    }

    [Fact]
    public void Create_WithExecutorConfig_RunsBlocks()
    {
        using ExecRuntime runtime = ExecRuntime.Create(configJson: """{"fs": {"max_list_entries": 10}}""");

        ExecResult result = Run(runtime, new ExecRequest { Type = "noop" });

        Assert.Equal(ExecStatus.Ok, result.Status);
    }

    [Fact]
    public void Create_MalformedExecutorConfig_ThrowsInvalidArgument()
    {
        var error = Assert.Throws<BeamlineNativeException>(() => ExecRuntime.Create(configJson: """{"fs": """));

        Assert.Equal(BlErrc.InvalidArgument, error.Code);
        Assert.Contains("config_json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_Noop_ReturnsOkWithEmptyOutput()
    {
        ExecResult result = Run(_runtime, new ExecRequest { BlockId = "b-2", Type = "noop", Payload = ByteString.CopyFromUtf8("ignored") });

        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.True(result.Output.IsEmpty);
    }

    [Fact]
    public void Execute_UnknownExecutor_ReturnsUnknownExecutorResult()
    {
        ExecResult result = Run(_runtime, new ExecRequest { BlockId = "b-3", Type = "no.such.executor" });

        Assert.Equal(ExecStatus.Error, result.Status);
        Assert.Equal("unknown_executor", result.ErrorCode);
        Assert.Contains("no.such.executor", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_MalformedBytes_ReturnsInvalidInputResult()
    {
        // Field 1 (string) claiming 100 bytes that are not there.
        byte[] malformed = [0x0A, 0x64, 0x01, 0x02];

        ExecResult result = ExecResult.Parser.ParseFrom(_runtime.Execute(malformed));

        Assert.Equal(ExecStatus.Error, result.Status);
        Assert.Equal("invalid_input", result.ErrorCode);
    }

    [Fact]
    public void Execute_IntoBufferWriter_WritesTheSameResult()
    {
        byte[] request = new ExecRequest { BlockId = "b-4", Type = "echo", Payload = ByteString.CopyFromUtf8("abc") }.ToByteArray();
        var writer = new ArrayBufferWriter<byte>();

        _runtime.Execute(request, writer);

        ExecResult result = ExecResult.Parser.ParseFrom(writer.WrittenSpan);
        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.Equal("abc", result.Output.ToStringUtf8());
    }

    [Fact]
    public void Execute_ManyThreads_AllGetTheirOwnPayload()
    {
        Parallel.For(0, 2000, i =>
        {
            ExecResult result = Run(_runtime, new ExecRequest { BlockId = $"b-{i}", Type = "echo", Payload = ByteString.CopyFromUtf8($"payload-{i}") });
            Assert.Equal($"payload-{i}", result.Output.ToStringUtf8());
            Assert.Equal($"b-{i}", result.BlockId);
        });
    }

    [Fact]
    public void Execute_HotPath_AllocatesOnlyTheResultArray()
    {
        byte[] request = new ExecRequest { Type = "echo", Payload = ByteString.CopyFromUtf8("0123456789") }.ToByteArray();
        int resultLength = _runtime.Execute(request).Length;
        for (int i = 0; i < 1000; i++)
        {
            _runtime.Execute(request); // warm up (tiered JIT)
        }

        const int Calls = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            _runtime.Execute(request);
        }

        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
        long arrayBytes = (24 + resultLength + 7) / 8 * 8; // a byte[]'s header and padding on 64-bit
        Assert.True(perCall <= arrayBytes, $"Execute allocated {perCall} bytes per call; the result array alone is {arrayBytes}.");
    }

    [Fact]
    public void ListExecutors_WithBuiltins_ListsEchoAndNoopSorted()
    {
        IReadOnlyList<string> executors = _runtime.ListExecutors();

        Assert.Contains("echo", executors);
        Assert.Contains("noop", executors);
        Assert.Equal(executors.Order(StringComparer.Ordinal), executors);
    }

    [Fact]
    public void ListExecutors_WithoutBuiltins_IsEmpty()
    {
        using ExecRuntime runtime = ExecRuntime.Create(registerBuiltins: false);

        Assert.Empty(runtime.ListExecutors());
        Assert.Equal("unknown_executor", Run(runtime, new ExecRequest { Type = "echo" }).ErrorCode);
    }

    [Fact]
    public void LoadPlugin_MissingFile_ThrowsNotFound()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-plugin-{Guid.NewGuid():N}.so");

        var error = Assert.Throws<BeamlineNativeException>(() => _runtime.LoadPlugin(missing));

        Assert.Equal(BlErrc.NotFound, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void LoadPlugin_BuiltPlugin_RegistersItsExecutor()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);

        Assert.Contains(ChunkPlugin.Type, _runtime.ListExecutors());
    }

    [Fact]
    public void LoadPlugin_SameTypeTwice_ThrowsAlreadyExists()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);

        var error = Assert.Throws<BeamlineNativeException>(() => _runtime.LoadPlugin(ChunkPlugin.Path));

        Assert.Equal(BlErrc.AlreadyExists, error.Code);
    }

    [Fact]
    public void ExecuteStream_StreamingExecutor_DeliversChunksThenResult()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);
        var chunks = new List<ExecChunk>();
        byte[] request = new ExecRequest { BlockId = "s-1", Type = ChunkPlugin.Type, Payload = ByteString.CopyFromUtf8("abc"), Stream = true }.ToByteArray();

        ExecResult result = ExecResult.Parser.ParseFrom(_runtime.ExecuteStream(request, chunk =>
        {
            chunks.Add(ExecChunk.Parser.ParseFrom(chunk));
            return true;
        }));

        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.Equal(["a", "b", "c"], chunks.Select(c => c.Data.ToStringUtf8()));
        Assert.Equal(chunks.Select(c => c.Seq).Order(), chunks.Select(c => c.Seq));
        Assert.All(chunks, c => Assert.Equal("s-1", c.BlockId));
    }

    [Fact]
    public void ExecuteStream_HandlerReturnsFalse_CancelsTheBlock()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);
        int seen = 0;
        byte[] request = new ExecRequest { Type = ChunkPlugin.Type, Payload = ByteString.CopyFromUtf8("abcdef"), Stream = true }.ToByteArray();

        ExecResult result = ExecResult.Parser.ParseFrom(_runtime.ExecuteStream(request, _ => ++seen < 2));

        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal(2, seen);
    }

    [Fact]
    public void ExecuteStream_HandlerThrows_CancelsAndRethrows()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);
        byte[] request = new ExecRequest { Type = ChunkPlugin.Type, Payload = ByteString.CopyFromUtf8("abc"), Stream = true }.ToByteArray();

        var error = Assert.Throws<InvalidOperationException>(() =>
            _runtime.ExecuteStream(request, _ => throw new InvalidOperationException("handler failed")));

        Assert.Equal("handler failed", error.Message);

        // The runtime is still usable afterwards.
        Assert.Equal(ExecStatus.Ok, Run(_runtime, new ExecRequest { Type = "noop" }).Status);
    }

    [Fact]
    public void ExecuteStream_NotAskedToStream_AppendsChunksToOutput()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);
        int calls = 0;
        byte[] request = new ExecRequest { Type = ChunkPlugin.Type, Payload = ByteString.CopyFromUtf8("xyz") }.ToByteArray();

        ExecResult result = ExecResult.Parser.ParseFrom(_runtime.ExecuteStream(request, _ => ++calls > 0));

        Assert.Equal(0, calls);
        Assert.Equal("xyz", result.Output.ToStringUtf8());
    }

    [Fact]
    public void Create_WithoutDebugConfig_HasNoDiagnosticExecutors()
    {
        Assert.DoesNotContain("debug.sleep", _runtime.ListExecutors());
        Assert.Equal("unknown_executor", Run(_runtime, Sleep("1")).ErrorCode);

        using ExecRuntime runtime = ExecRuntime.Create(configJson: DiagnosticsConfig);
        Assert.Contains("debug.sleep", runtime.ListExecutors());
    }

    [Fact]
    public void Execute_TokenCancelledWhileRunning_EndsCancelled()
    {
        using ExecRuntime runtime = ExecRuntime.Create(configJson: DiagnosticsConfig);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        ExecResult result = ExecResult.Parser.ParseFrom(runtime.Execute(Sleep("10000").ToByteArray(), cts.Token));

        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal("cancelled", result.ErrorCode);
        Assert.Contains("caller cancelled", result.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("sleepy", result.BlockId);
    }

    [Fact]
    public void Execute_TokenAlreadyCancelled_ReturnsCancelledWithoutRunning()
    {
        using ExecRuntime runtime = ExecRuntime.Create(configJson: DiagnosticsConfig);
        var writer = new ArrayBufferWriter<byte>();

        runtime.Execute(Sleep("10000").ToByteArray(), writer, new CancellationToken(canceled: true));

        ExecResult result = ExecResult.Parser.ParseFrom(writer.WrittenSpan);
        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Contains("before it was started", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Execute_TokenNeverCancelled_Finishes()
    {
        using ExecRuntime runtime = ExecRuntime.Create(configJson: DiagnosticsConfig);
        using var cts = new CancellationTokenSource();

        ExecResult result = ExecResult.Parser.ParseFrom(runtime.Execute(Sleep("5").ToByteArray(), cts.Token));

        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.Equal("5", result.Output.ToStringUtf8());
    }

    [Fact]
    public void ExecuteStream_TokenCancelledWhileRunning_EndsCancelled()
    {
        using ExecRuntime runtime = ExecRuntime.Create(configJson: DiagnosticsConfig);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        ExecRequest request = Sleep("10000");
        request.Stream = true;

        ExecResult result = ExecResult.Parser.ParseFrom(runtime.ExecuteStream(request.ToByteArray(), _ => true, cts.Token));

        Assert.Equal(ExecStatus.Cancelled, result.Status);
        Assert.Equal("cancelled", result.ErrorCode);
        Assert.Contains("caller cancelled", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecuteStream_WithToken_DeliversChunksThenResult()
    {
        _runtime.LoadPlugin(ChunkPlugin.Path);
        var chunks = new List<string>();
        using var cts = new CancellationTokenSource();
        byte[] request = new ExecRequest { Type = ChunkPlugin.Type, Payload = ByteString.CopyFromUtf8("abc"), Stream = true }.ToByteArray();

        ExecResult result = ExecResult.Parser.ParseFrom(_runtime.ExecuteStream(request, chunk =>
        {
            chunks.Add(ExecChunk.Parser.ParseFrom(chunk).Data.ToStringUtf8());
            return true;
        }, cts.Token));

        Assert.Equal(ExecStatus.Ok, result.Status);
        Assert.Equal(["a", "b", "c"], chunks);
    }

    [Fact]
    public void Execute_AfterDispose_ThrowsObjectDisposed()
    {
        ExecRuntime runtime = ExecRuntime.Create();
        runtime.Dispose();

        Assert.Throws<ObjectDisposedException>(() => runtime.Execute(new ExecRequest { Type = "noop" }.ToByteArray()));
    }

    /// <summary>The executor configuration that registers the diagnostic executors (<c>debug.sleep</c>).</summary>
    private const string DiagnosticsConfig = """{"debug": {"enabled": true}}""";

    private static ExecResult Run(ExecRuntime runtime, ExecRequest request) =>
        ExecResult.Parser.ParseFrom(runtime.Execute(request.ToByteArray()));

    private static ExecRequest Sleep(string milliseconds) =>
        new() { BlockId = "sleepy", Type = "debug.sleep", Payload = ByteString.CopyFromUtf8(milliseconds) };

    /// <summary>A plugin compiled here from C: "test.chunks" emits each payload byte as one chunk.</summary>
    private static class ChunkPlugin
    {
        public const string Type = "test.chunks";

        private static readonly Lazy<string> LazyPath = new(() => CCompiler.Compile("chunk_plugin", Source, sharedLibrary: true));

        public static string Path => LazyPath.Value;

        private const string Source = """
            #include <beamline/beamline_exec.h>

            static bl_status* BL_CALL chunks_execute(void* user, bl_exec_context* ctx, const uint8_t* payload,
                                                     uint64_t payload_len) {
              const bl_api* api = (const bl_api*)user;
              for (uint64_t i = 0; i < payload_len; ++i) {
                bl_status* st = api->context_emit_chunk(ctx, payload + i, 1);
                if (st != NULL) {
                  return st;
                }
              }
              return NULL;
            }

            BL_EXPORT uint32_t BL_CALL bl_plugin_api_version(void) { return BL_API_VERSION; }

            BL_EXPORT bl_status* BL_CALL bl_plugin_init(const bl_api* api, bl_runtime* runtime) {
              static const char type[] = "test.chunks";
              bl_executor_def def = {0};
              def.struct_size = sizeof(def);
              def.type = type;
              def.type_len = sizeof(type) - 1;
              def.user = (void*)api;
              def.execute = chunks_execute;
              return api->runtime_register_executor(runtime, &def);
            }
            """;
    }
}
