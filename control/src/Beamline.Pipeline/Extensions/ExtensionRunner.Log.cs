using Microsoft.Extensions.Logging;

namespace Beamline.Pipeline.Extensions;

public sealed partial class ExtensionRunner
{
    [LoggerMessage(1, LogLevel.Warning, "The {Stage} extension '{ExtensionId}' is not registered; the step is not required, request {RequestId} goes on without it.")]
    private partial void LogSkippedUnknown(string extensionId, string stage, string requestId);

    [LoggerMessage(2, LogLevel.Warning, "The {Stage} extension '{ExtensionId}' failed ({Status}: {Message}); the step is optional, request {RequestId} goes on without it.")]
    private partial void LogSkippedFailed(string extensionId, string stage, string requestId, string status, string? message);

    [LoggerMessage(3, LogLevel.Warning, "Validator '{ExtensionId}' rejected request {RequestId} ({Reason}); on_fail is warn, the request goes on.")]
    private partial void LogValidatorWarned(string extensionId, string requestId, string reason);

    [LoggerMessage(4, LogLevel.Debug, "Validator '{ExtensionId}' rejected request {RequestId} ({Reason}); on_fail is ignore.")]
    private partial void LogValidatorIgnored(string extensionId, string requestId, string reason);
}
