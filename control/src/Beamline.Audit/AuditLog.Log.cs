using Microsoft.Extensions.Logging;

namespace Beamline.Audit;

public sealed partial class AuditLog
{
    [LoggerMessage(1, LogLevel.Critical, "The audit log in {DataDirectory} is broken: {Problem} The evidence is kept in audit.head.broken and `beamline audit verify` reports it; new entries continue the chain from its last entry.")]
    private static partial void LogBrokenStatic(ILogger logger, string dataDirectory, string problem);

    [LoggerMessage(2, LogLevel.Warning, "The audit head file was behind the table by {Count} entries (a stop before the head was written): anchored again at entry {Seq}.")]
    private static partial void LogReanchoredStatic(ILogger logger, long count, long seq);

    [LoggerMessage(3, LogLevel.Error, "Audit entries could not be written (attempt {Attempt}); retrying, callers wait while the queue is full.")]
    private partial void LogWriteFailed(Exception error, int attempt);

    [LoggerMessage(4, LogLevel.Critical, "{Count} audit entries were lost: the log was closing and they could not be written.")]
    private partial void LogLost(int count);

    [LoggerMessage(5, LogLevel.Error, "The audit head file could not be written; it is written again after the next batch.")]
    private partial void LogHeadFailed(Exception error);

    [LoggerMessage(6, LogLevel.Warning, "The audit head publisher failed.")]
    private partial void LogPublishFailed(Exception error);

    [LoggerMessage(7, LogLevel.Information, "Audit log {Path} opened at entry {Seq}.")]
    private partial void LogOpened(string path, long seq);

    [LoggerMessage(8, LogLevel.Critical, "The audit writer stopped: no further entry will be written, and appends wait once the queue is full.")]
    private partial void LogWriterStopped(Exception error);
}
