using Beamline.Interop.Exec;
using Beamline.Worker.V2;

namespace Beamline.Dispatch;

/// <summary>
/// The error codes a block result carries, shared by the native executors (bl_errc), the
/// dispatch paths and the HTTP API, which maps them to statuses with <see cref="HttpStatusFor"/>.
/// </summary>
public static class ExecErrorCodes
{
    /// <summary>The request or payload could not be decoded.</summary>
    public const string InvalidInput = "invalid_input";

    /// <summary>No executor is registered for the block type.</summary>
    public const string UnknownExecutor = "unknown_executor";

    /// <summary>The block's deadline passed before it finished.</summary>
    public const string DeadlineExceeded = "deadline_exceeded";

    /// <summary>The pool was full or lacks the resource.</summary>
    public const string ResourceUnavailable = "resource_unavailable";

    /// <summary>No worker subscribes to the pool's subject.</summary>
    public const string NoResponders = "no_responders";

    /// <summary>The caller cancelled the block.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Refused by a sandbox or allow-list.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>A bug or an unexpected failure.</summary>
    public const string InternalError = "internal_error";

    /// <summary>The block ran, but its result is larger than the transport carries (NATS max_payload).</summary>
    public const string ResultTooLarge = "result_too_large";

    /// <summary>
    /// The worker that took a non-idempotent block (same tenant and block_id, worker flag
    /// <c>--block-dedupe on</c>) was lost before it stored a result: whether its effect happened is
    /// unknown, and it is not run again.
    /// </summary>
    public const string WorkerLost = "worker_lost";

    /// <summary>The HTTP status for a failed block's error code.</summary>
    public static int HttpStatusFor(string errorCode) => errorCode switch
    {
        InvalidInput or UnknownExecutor or "invalid_argument" => 400,
        PermissionDenied => 403,
        "not_found" => 404,
        ResourceUnavailable or NoResponders => 503,
        DeadlineExceeded => 504,
        ResultTooLarge or WorkerLost => 502,
        Cancelled => 499,
        _ => 500,
    };

    /// <summary>The error code of a native status code.</summary>
    public static string FromNative(BlErrc code) => code switch
    {
        BlErrc.InvalidArgument => "invalid_argument",
        BlErrc.InvalidInput => InvalidInput,
        BlErrc.UnknownExecutor => UnknownExecutor,
        BlErrc.DeadlineExceeded => DeadlineExceeded,
        BlErrc.ResourceUnavailable => ResourceUnavailable,
        BlErrc.Cancelled => Cancelled,
        BlErrc.VersionMismatch => "version_mismatch",
        BlErrc.AlreadyExists => "already_exists",
        BlErrc.NotFound => "not_found",
        BlErrc.PermissionDenied => PermissionDenied,
        _ => InternalError,
    };

    /// <summary>A result for a block that did not reach an executor.</summary>
    public static ExecResult Failure(ExecRequest request, ExecStatus status, string errorCode, string message) => new()
    {
        BlockId = request.BlockId,
        Status = status,
        ErrorCode = errorCode,
        ErrorMessage = message,
    };
}
