using Microsoft.Extensions.Logging;

namespace Beamline.Host.Replay;

internal sealed partial class ReplayCapture
{
    [LoggerMessage(1, LogLevel.Information, "Request replay keeps the requests of {TenantCount} tenant(s) in {DatabasePath}, PII masked, for {Retention}.")]
    private static partial void LogKeeping(ILogger logger, int tenantCount, string databasePath, TimeSpan retention);

    [LoggerMessage(2, LogLevel.Warning, "Request replay dropped {Count} request(s): its queue of {Capacity} was full (the writer is behind).")]
    private static partial void LogDropped(ILogger logger, long count, int capacity);

    [LoggerMessage(3, LogLevel.Error, "Request replay could not write {Count} request(s) to its database.")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "Request replay did not keep request '{RequestId}' of tenant '{TenantId}': masking it failed.")]
    private static partial void LogMaskFailed(ILogger logger, string tenantId, string requestId, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Request replay purged {Count} request(s) older than {Retention}.")]
    private static partial void LogPurged(ILogger logger, int count, TimeSpan retention);

    [LoggerMessage(6, LogLevel.Error, "Request replay could not purge expired requests.")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
