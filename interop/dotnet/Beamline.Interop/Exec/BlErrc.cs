namespace Beamline.Interop.Exec;

/// <summary>
/// Status codes of the executors' C ABI (<c>bl_errc</c>). Values are stable; new codes are only appended.
/// </summary>
public enum BlErrc
{
    /// <summary>Success (never carried by a failure).</summary>
    Ok = 0,

    /// <summary>API misuse: a NULL handle, a bad struct size (<c>invalid_argument</c>).</summary>
    InvalidArgument = 1,

    /// <summary>A block's request or payload could not be decoded (<c>invalid_input</c>).</summary>
    InvalidInput = 2,

    /// <summary>No executor is registered for the block type (<c>unknown_executor</c>).</summary>
    UnknownExecutor = 3,

    /// <summary>The block's deadline passed (<c>deadline_exceeded</c>).</summary>
    DeadlineExceeded = 4,

    /// <summary>The pool is full or lacks the resource (<c>resource_unavailable</c>).</summary>
    ResourceUnavailable = 5,

    /// <summary>The caller cancelled the block (<c>cancelled</c>).</summary>
    Cancelled = 6,

    /// <summary>A plugin or caller was built for another ABI version (<c>version_mismatch</c>).</summary>
    VersionMismatch = 7,

    /// <summary>An executor of that type is already registered (<c>already_exists</c>).</summary>
    AlreadyExists = 8,

    /// <summary>A file, plugin or symbol was not found (<c>not_found</c>).</summary>
    NotFound = 9,

    /// <summary>Refused by a sandbox or an allow-list (<c>permission_denied</c>).</summary>
    PermissionDenied = 10,

    /// <summary>A bug or an unexpected failure, e.g. an exception (<c>internal_error</c>).</summary>
    Internal = 11,

    /// <summary><c>BL_ERR_NOT_ASYNC</c> (version 3): the block type has no asynchronous path; run it synchronously.</summary>
    NotAsync = 12,
}
