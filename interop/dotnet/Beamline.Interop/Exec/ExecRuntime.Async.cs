using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Beamline.Interop.Exec;

// execute_async (C ABI version 3): blocks of an async-capable type (http.request) run on the
// runtime's event thread and end through callbacks, so that no thread waits for their I/O.
public sealed unsafe partial class ExecRuntime
{
    /// <summary>
    /// Starts one block without holding a thread while it waits for I/O, when its type has an asynchronous path
    /// (<c>http.request</c>: libcurl's multi interface, every transfer of the runtime on one event thread).
    /// </summary>
    /// <param name="request">An encoded <c>ExecRequest</c> (set <c>stream</c> for chunks).</param>
    /// <param name="receiver">Gets the chunks and then the result, exactly once, when the block was taken.</param>
    /// <param name="cancellationToken">Cancels the block: its transfer stops within about 20 ms and it ends with status
    /// <c>cancelled</c>, through <see cref="ExecAsyncReceiver.OnResult"/>; see
    /// <see cref="Execute(ReadOnlySpan{byte}, CancellationToken)"/>.</param>
    /// <returns><see langword="true"/> when the block was taken (its result may already have arrived);
    /// <see langword="false"/> when its type has no asynchronous path — <paramref name="receiver"/> is then never
    /// called: run the block with <see cref="Execute(ReadOnlySpan{byte}, CancellationToken)"/> or
    /// <see cref="ExecuteStream(ReadOnlySpan{byte}, ExecChunkHandler, CancellationToken)"/>.</returns>
    /// <exception cref="BeamlineNativeException">The call itself was refused.</exception>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    /// <remarks>The runtime is kept alive (a <see cref="Dispose"/> is deferred) until every taken block has ended.</remarks>
    public bool TryStartAsync(ReadOnlySpan<byte> request, ExecAsyncReceiver receiver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        var call = new AsyncCall(this, receiver);
        bool added = false;
        _handle.DangerousAddRef(ref added); // released when the block ends (AsyncCall.End)
        GCHandle self = GCHandle.Alloc(call);
        BlStatus* status;
        try
        {
            call.Begin(self, cancellationToken);
            BlExecOverrides overrides = Overrides(call.CancelFlag);
            var callbacks = new BlAsyncCallbacks
            {
                StructSize = (uint)sizeof(BlAsyncCallbacks),
                OnChunk = &OnAsyncChunk,
                OnResult = &OnAsyncResult,
            };
            fixed (byte* requestPtr = request)
            {
                status = _api->ExecuteAsync(Runtime, requestPtr, (ulong)request.Length, &overrides, &callbacks,
                    (void*)GCHandle.ToIntPtr(self));
            }
        }
        catch
        {
            call.End(); // not taken: nothing will call back
            throw;
        }

        if (status is null)
        {
            return true; // taken: OnAsyncResult ends the call
        }

        call.End(); // a status means that no callback comes
        if (_api->StatusCode(status) == (int)BlErrc.NotAsync)
        {
            Status.Release(_api, status);
            return false;
        }

        Status.ThrowIfFailed(_api, status);
        return false; // unreachable: the status is not NULL
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnAsyncChunk(void* user, byte* chunk, ulong chunkLen)
    {
        try
        {
            var call = (AsyncCall)GCHandle.FromIntPtr((IntPtr)user).Target!;
            var data = chunk is null ? default : new ReadOnlySpan<byte>(chunk, checked((int)chunkLen));
            return call.Receiver.OnChunk(data) ? 0 : 1;
        }
#pragma warning disable CA1031 // An exception must not cross into native code: it cancels the block.
        catch (Exception)
#pragma warning restore CA1031
        {
            return 1;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnAsyncResult(void* user, byte* result, ulong resultLen)
    {
        AsyncCall? call = null;
        try
        {
            call = (AsyncCall)GCHandle.FromIntPtr((IntPtr)user).Target!;
            // The runtime reads neither the cancel flag nor `user` once it called on_result.
            call.End();
            var data = result is null ? default : new ReadOnlySpan<byte>(result, checked((int)resultLen));
            call.Receiver.OnResult(data);
        }
#pragma warning disable CA1031 // An exception must not cross into native code; the receiver's contract forbids it.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// One taken block: the receiver, the GC handle that native code holds, the cancel flag and its token
    /// registration, and a reference on the runtime handle. <see cref="End"/> frees them, once.
    /// </summary>
    private sealed class AsyncCall(ExecRuntime owner, ExecAsyncReceiver receiver)
    {
        private GCHandle _self;
        private CancellationTokenRegistration _registration;
        private int _ended;

        public ExecAsyncReceiver Receiver { get; } = receiver;

        public int* CancelFlag { get; private set; }

        public void Begin(GCHandle self, CancellationToken cancellationToken)
        {
            _self = self;
            if (cancellationToken.CanBeCanceled)
            {
                CancelFlag = (int*)NativeMemory.AllocZeroed((nuint)sizeof(int));
                // Runs at once, on this thread, when the token is already cancelled.
                _registration = cancellationToken.UnsafeRegister(static flag => Volatile.Write(ref *(int*)(nint)flag!, 1), (nint)CancelFlag);
            }
        }

        public void End()
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                return;
            }

            // Unregister first (waits for a running callback), then free what it writes to.
            _registration.Dispose();
            if (CancelFlag is not null)
            {
                NativeMemory.Free(CancelFlag);
                CancelFlag = null;
            }

            if (_self.IsAllocated)
            {
                _self.Free();
            }

            // Not on this thread: the last reference releases the runtime, which joins the event thread that may be
            // running this very callback.
            ThreadPool.UnsafeQueueUserWorkItem(static handle => handle.DangerousRelease(), owner._handle, preferLocal: false);
        }
    }
}
