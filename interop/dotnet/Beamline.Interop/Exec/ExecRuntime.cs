using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Beamline.Interop.Exec;

/// <summary>
/// An in-process executor runtime (<c>bl_runtime</c>): runs blocks through the C ABI of
/// <c>libbeamline_exec</c>. Requests and results are encoded <c>beamline.worker.v2</c> messages,
/// byte-identical to what a worker exchanges over NATS. Thread-safe; <see cref="Dispose"/> waits
/// for no call but releases the native runtime only once the last running call has returned.
/// </summary>
public sealed unsafe partial class ExecRuntime : IDisposable
{
    private readonly BlApi* _api;
    private readonly RuntimeHandle _handle;

    private ExecRuntime(BlApi* api, RuntimeHandle handle)
    {
        _api = api;
        _handle = handle;
    }

    /// <summary>Creates a runtime.</summary>
    /// <param name="workerId">Reported as <c>ExecResult.worker_id</c>; <see langword="null"/> means "in-process".</param>
    /// <param name="registerBuiltins">Whether to register the built-in executors (noop, echo, ...).</param>
    /// <param name="configJson">The executor configuration as a JSON object, one member per executor family
    /// (<c>"fs"</c>, <c>"sql"</c>, <c>"http"</c>, <c>"cpu"</c>, <c>"gpu"</c>, <c>"debug"</c>; see docs/executors.md);
    /// <see langword="null"/> means the defaults. The diagnostic executors (<c>debug.sleep</c>) are registered
    /// only with <c>{"debug": {"enabled": true}}</c>.</param>
    /// <exception cref="DllNotFoundException">The native library could not be loaded.</exception>
    /// <exception cref="BeamlineNativeException">The library is too old, or refused to create a runtime
    /// (e.g. <paramref name="configJson"/> is not a JSON object of objects).</exception>
    public static ExecRuntime Create(string? workerId = null, bool registerBuiltins = true, string? configJson = null)
    {
        BlApi* api = ExecApi.Table;
        byte[]? workerIdUtf8 = workerId is null ? null : Encoding.UTF8.GetBytes(workerId);
        byte[]? configUtf8 = configJson is null ? null : Encoding.UTF8.GetBytes(configJson);

        BlRuntime* runtime = null;
        fixed (byte* workerIdPtr = workerIdUtf8)
        fixed (byte* configPtr = configUtf8)
        {
            var options = new BlRuntimeOptions
            {
                StructSize = (uint)sizeof(BlRuntimeOptions),
                Flags = registerBuiltins ? 0u : BlRuntimeOptions.NoBuiltins,
                WorkerId = workerIdPtr,
                WorkerIdLen = workerIdUtf8 is null ? 0ul : (ulong)workerIdUtf8.Length,
                ConfigJson = configPtr,
                ConfigJsonLen = configUtf8 is null ? 0ul : (ulong)configUtf8.Length,
            };
            Status.ThrowIfFailed(api, api->RuntimeCreate(&options, &runtime));
        }

        if (runtime is null)
        {
            throw new BeamlineNativeException(BlErrc.Internal, "runtime_create succeeded but returned no runtime.");
        }

        return new ExecRuntime(api, new RuntimeHandle(api, runtime));
    }

    /// <summary>Runs one block.</summary>
    /// <param name="request">An encoded <c>ExecRequest</c>.</param>
    /// <returns>The encoded <c>ExecResult</c>. A block that fails (malformed request, unknown type, executor
    /// error, deadline) still returns a result whose status says so.</returns>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public byte[] Execute(ReadOnlySpan<byte> request) => Execute(request, CancellationToken.None);

    /// <summary>Runs one block that <paramref name="cancellationToken"/> can cancel while it runs.</summary>
    /// <param name="request">An encoded <c>ExecRequest</c>.</param>
    /// <param name="cancellationToken">Cancels the block: the executor sees it through <c>context_cancelled</c>, and the
    /// block ends with status <c>cancelled</c> and error_code <c>"cancelled"</c>. A token already cancelled when the call
    /// starts gives that result without running the block.</param>
    /// <returns>The encoded <c>ExecResult</c>; cancellation is a result, not an <see cref="OperationCanceledException"/>.</returns>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public byte[] Execute(ReadOnlySpan<byte> request, CancellationToken cancellationToken)
    {
        BlBuffer result = ExecuteNative(request, cancellationToken);
        try
        {
            return AsSpan(result).ToArray();
        }
        finally
        {
            _api->BufferRelease(&result);
        }
    }

    /// <summary>Runs one block and copies the encoded <c>ExecResult</c> into <paramref name="result"/> (no array is allocated).</summary>
    /// <param name="request">An encoded <c>ExecRequest</c>.</param>
    /// <param name="result">Receives the encoded <c>ExecResult</c>.</param>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public void Execute(ReadOnlySpan<byte> request, IBufferWriter<byte> result) => Execute(request, result, CancellationToken.None);

    /// <summary>
    /// Runs one block that <paramref name="cancellationToken"/> can cancel while it runs, and copies the encoded
    /// <c>ExecResult</c> into <paramref name="result"/>.
    /// </summary>
    /// <param name="request">An encoded <c>ExecRequest</c>.</param>
    /// <param name="result">Receives the encoded <c>ExecResult</c>.</param>
    /// <param name="cancellationToken">Cancels the block; see <see cref="Execute(ReadOnlySpan{byte}, CancellationToken)"/>.</param>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public void Execute(ReadOnlySpan<byte> request, IBufferWriter<byte> result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        BlBuffer buffer = ExecuteNative(request, cancellationToken);
        try
        {
            result.Write(AsSpan(buffer));
        }
        finally
        {
            _api->BufferRelease(&buffer);
        }
    }

    /// <summary>
    /// The C ABI call behind the Execute overloads: the caller owns the returned buffer (it is
    /// library memory, independent of the runtime) and releases it with buffer_release.
    /// </summary>
    private BlBuffer ExecuteNative(ReadOnlySpan<byte> request, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return ExecuteNative(request, cancelFlag: null);
        }

        using var cancelFlag = new CancelFlag(cancellationToken);
        return ExecuteNative(request, cancelFlag.Pointer);
    }

    private BlBuffer ExecuteNative(ReadOnlySpan<byte> request, int* cancelFlag)
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            BlBuffer result = default;
            BlStatus* status;
            fixed (byte* requestPtr = request)
            {
                if (cancelFlag is null)
                {
                    // The hot path: no overrides to build.
                    status = _api->Execute(Runtime, requestPtr, (ulong)request.Length, &result);
                }
                else
                {
                    BlExecOverrides overrides = Overrides(cancelFlag);
                    status = _api->ExecuteEx(Runtime, requestPtr, (ulong)request.Length, &overrides, null, null, &result);
                }
            }

            // On failure the outputs are left untouched: nothing to release.
            Status.ThrowIfFailed(_api, status);
            return result;
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Runs one block that may stream: each chunk the executor emits is handed, encoded as
    /// <c>ExecChunk</c>, to <paramref name="onChunk"/> on this thread before the call returns.
    /// </summary>
    /// <param name="request">An encoded <c>ExecRequest</c> (set <c>stream</c> for chunks).</param>
    /// <param name="onChunk">Receives each chunk; returning <see langword="false"/> cancels the block.</param>
    /// <returns>The encoded <c>ExecResult</c>.</returns>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    /// <remarks>An exception thrown by <paramref name="onChunk"/> cancels the block and is rethrown here.</remarks>
    public byte[] ExecuteStream(ReadOnlySpan<byte> request, ExecChunkHandler onChunk) =>
        ExecuteStream(request, onChunk, CancellationToken.None);

    /// <summary>
    /// Runs one block that may stream and that <paramref name="cancellationToken"/> can cancel while it runs: each
    /// chunk the executor emits is handed, encoded as <c>ExecChunk</c>, to <paramref name="onChunk"/> on this thread
    /// before the call returns.
    /// </summary>
    /// <param name="request">An encoded <c>ExecRequest</c> (set <c>stream</c> for chunks).</param>
    /// <param name="onChunk">Receives each chunk; returning <see langword="false"/> cancels the block.</param>
    /// <param name="cancellationToken">Cancels the block; see <see cref="Execute(ReadOnlySpan{byte}, CancellationToken)"/>.</param>
    /// <returns>The encoded <c>ExecResult</c>; cancellation is a result, not an <see cref="OperationCanceledException"/>.</returns>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    /// <remarks>An exception thrown by <paramref name="onChunk"/> cancels the block and is rethrown here.</remarks>
    public byte[] ExecuteStream(ReadOnlySpan<byte> request, ExecChunkHandler onChunk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onChunk);
        if (!cancellationToken.CanBeCanceled)
        {
            return ExecuteStream(request, onChunk, cancelFlag: null);
        }

        using var cancelFlag = new CancelFlag(cancellationToken);
        return ExecuteStream(request, onChunk, cancelFlag.Pointer);
    }

    private byte[] ExecuteStream(ReadOnlySpan<byte> request, ExecChunkHandler onChunk, int* cancelFlag)
    {
        var state = new StreamState(onChunk);
        GCHandle stateHandle = GCHandle.Alloc(state);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            BlBuffer buffer = default;
            BlStatus* status;
            fixed (byte* requestPtr = request)
            {
                if (cancelFlag is null)
                {
                    status = _api->ExecuteStream(Runtime, requestPtr, (ulong)request.Length, &OnChunk,
                        (void*)GCHandle.ToIntPtr(stateHandle), &buffer);
                }
                else
                {
                    BlExecOverrides overrides = Overrides(cancelFlag);
                    status = _api->ExecuteEx(Runtime, requestPtr, (ulong)request.Length, &overrides, &OnChunk,
                        (void*)GCHandle.ToIntPtr(stateHandle), &buffer);
                }
            }

            try
            {
                if (state.Error is not null)
                {
                    Status.Release(_api, status);
                    state.Error.Throw();
                }

                Status.ThrowIfFailed(_api, status);
                return AsSpan(buffer).ToArray();
            }
            finally
            {
                _api->BufferRelease(&buffer);
            }
        }
        finally
        {
            _handle.DangerousRelease();
            stateHandle.Free();
        }
    }

    /// <summary>Loads a native plugin (dlopen) and lets it register its executors.</summary>
    /// <param name="path">The plugin's path.</param>
    /// <exception cref="BeamlineNativeException"><see cref="BlErrc.NotFound"/> when the file or its symbols are missing,
    /// <see cref="BlErrc.VersionMismatch"/> when it was built for another ABI version, or the plugin's own error.</exception>
    public void LoadPlugin(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] pathUtf8 = Encoding.UTF8.GetBytes(path);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            fixed (byte* pathPtr = pathUtf8)
            {
                Status.ThrowIfFailed(_api, _api->RuntimeLoadPlugin(Runtime, pathPtr, (ulong)pathUtf8.Length));
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>The registered block types, sorted.</summary>
    public IReadOnlyList<string> ListExecutors()
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            BlBuffer buffer = default;
            Status.ThrowIfFailed(_api, _api->RuntimeListExecutors(Runtime, &buffer));
            try
            {
                string all = Encoding.UTF8.GetString(AsSpan(buffer));
                return all.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
            finally
            {
                _api->BufferRelease(&buffer);
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>Releases the native runtime once no call is running on it.</summary>
    public void Dispose() => _handle.Dispose();

    private BlRuntime* Runtime => (BlRuntime*)_handle.DangerousGetHandle();

    private static BlExecOverrides Overrides(int* cancelFlag) => new()
    {
        StructSize = (uint)sizeof(BlExecOverrides),
        GpuDevice = -1,
        CancelFlag = cancelFlag,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> AsSpan(in BlBuffer buffer) =>
        buffer.Data is null ? default : new ReadOnlySpan<byte>(buffer.Data, checked((int)buffer.Len));

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnChunk(void* user, byte* chunk, ulong chunkLen)
    {
        StreamState? state = null;
        try
        {
            state = (StreamState)GCHandle.FromIntPtr((IntPtr)user).Target!;
            if (state.Error is not null)
            {
                return 1;
            }

            var data = chunk is null ? default : new ReadOnlySpan<byte>(chunk, checked((int)chunkLen));
            return state.Handler(data) ? 0 : 1;
        }
#pragma warning disable CA1031 // An exception must not cross into native code: it is captured and rethrown by ExecuteStream.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            state?.Error = ExceptionDispatchInfo.Capture(ex);
            return 1;
        }
    }

    /// <summary>
    /// The native <c>int32_t</c> behind <c>bl_exec_overrides.cancel_flag</c> for one call: set to 1 when the token is
    /// cancelled. Dispose unregisters first (waiting for a callback that is running) and only then frees the flag,
    /// so that nothing writes to freed memory.
    /// </summary>
    private readonly struct CancelFlag : IDisposable
    {
        private readonly CancellationTokenRegistration _registration;

        public CancelFlag(CancellationToken cancellationToken)
        {
            Pointer = (int*)NativeMemory.AllocZeroed((nuint)sizeof(int));
            try
            {
                // Runs at once, on this thread, when the token is already cancelled.
                _registration = cancellationToken.UnsafeRegister(static flag => Volatile.Write(ref *(int*)(nint)flag!, 1), (nint)Pointer);
            }
            catch
            {
                NativeMemory.Free(Pointer);
                throw;
            }
        }

        public int* Pointer { get; }

        public void Dispose()
        {
            _registration.Dispose();
            NativeMemory.Free(Pointer);
        }
    }

    private sealed class StreamState(ExecChunkHandler handler)
    {
        public ExecChunkHandler Handler { get; } = handler;

        public ExceptionDispatchInfo? Error { get; set; }
    }
}
