using Microsoft.Extensions.Logging;

namespace Beamline.Extensions.Registry;

public sealed partial class ExtensionRegistry
{
    [LoggerMessage(1, LogLevel.Warning, "Extension entry file {Path} skipped: {Reason}")]
    private static partial void LogBadFile(ILogger logger, string path, string reason);

    [LoggerMessage(2, LogLevel.Warning, "Extension entry file {Path} skipped: id '{Id}' is already given by {FirstPath}, the first by file name.")]
    private static partial void LogDuplicateId(ILogger logger, string path, string id, string firstPath);

    [LoggerMessage(3, LogLevel.Warning, "The extension {What} {Directory} does not exist: no entries are read from it.")]
    private static partial void LogDirectoryMissing(ILogger logger, string what, string directory);

    [LoggerMessage(4, LogLevel.Warning, "The extension {What} {Directory} cannot be read: {Reason}")]
    private static partial void LogDirectoryUnreadable(ILogger logger, string what, string directory, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Stored extension file {Path} skipped: it holds id '{Id}', and a stored entry's file must be named after its id.")]
    private static partial void LogStoredFileMisnamed(ILogger logger, string path, string id);

    [LoggerMessage(6, LogLevel.Information, "Extension '{Id}' stored ({Path}) and live.")]
    private static partial void LogStored(ILogger logger, string id, string path);

    [LoggerMessage(7, LogLevel.Information, "Stored extension '{Id}' deleted.")]
    private static partial void LogDeleted(ILogger logger, string id);

    [LoggerMessage(8, LogLevel.Information, "Extension directory {Directory} reloaded: {Count} entries, registry version {Version}.")]
    private static partial void LogReloaded(ILogger logger, string directory, int count, long version);

    [LoggerMessage(9, LogLevel.Warning, "Watching the extension directory {Directory} failed: {Reason}")]
    private static partial void LogWatchError(ILogger logger, string directory, string reason);

    [LoggerMessage(10, LogLevel.Error, "Reloading the extension directory {Directory} failed; the previous entries stay.")]
    private static partial void LogReloadFailed(ILogger logger, string directory, Exception exception);

    [LoggerMessage(11, LogLevel.Error, "A handler of ExtensionRegistry.Changed failed.")]
    private static partial void LogChangedHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "No extension store directory is configured: entries put through the admin API are kept in memory only.")]
    private static partial void LogStoreInMemory(ILogger logger);
}
