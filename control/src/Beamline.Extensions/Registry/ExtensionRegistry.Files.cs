using System.Collections.Immutable;

namespace Beamline.Extensions.Registry;

// Reading the two sources from disk, the atomic store write, and the directory watcher.
public sealed partial class ExtensionRegistry
{
    private const string EntryPattern = "*.json";

    private const UnixFileMode UserOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode UserOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private string StoreFile(string id) => Path.Combine(StorePath!, id + ".json");

    // The directory's entries; when two files give one id, the first by file name (ordinal) wins.
    private ImmutableDictionary<string, ExtensionRegistration> LoadDirectory()
    {
        var entries = ImmutableDictionary.CreateBuilder<string, ExtensionRegistration>(StringComparer.Ordinal);
        if (DirectoryPath is null)
        {
            return entries.ToImmutable();
        }
        foreach (var path in ListEntryFiles(DirectoryPath, "directory"))
        {
            if (!TryReadEntryFile(path, out var entry))
            {
                continue;
            }
            if (entries.TryGetValue(entry.Id, out var first))
            {
                LogDuplicateId(_logger, path, entry.Id, first.FilePath!);
                continue;
            }
            entries[entry.Id] = new ExtensionRegistration(entry, ExtensionSource.Directory, path);
        }
        return entries.ToImmutable();
    }

    // The stored entries: <id>.json each; a file whose entry has another id is skipped (it could
    // neither be replaced nor deleted through its id).
    private ImmutableDictionary<string, ExtensionRegistration> LoadStore()
    {
        var entries = ImmutableDictionary.CreateBuilder<string, ExtensionRegistration>(StringComparer.Ordinal);
        if (StorePath is null)
        {
            LogStoreInMemory(_logger);
            return entries.ToImmutable();
        }
        if (!Directory.Exists(StorePath))
        {
            return entries.ToImmutable();
        }
        foreach (var path in ListEntryFiles(StorePath, "store"))
        {
            if (!TryReadEntryFile(path, out var entry))
            {
                continue;
            }
            if (Path.GetFileNameWithoutExtension(path) != entry.Id)
            {
                LogStoredFileMisnamed(_logger, path, entry.Id);
                continue;
            }
            entries[entry.Id] = new ExtensionRegistration(entry, ExtensionSource.Admin, path);
        }
        return entries.ToImmutable();
    }

    private List<string> ListEntryFiles(string directory, string what)
    {
        var files = new List<string>();
        try
        {
            if (!Directory.Exists(directory))
            {
                LogDirectoryMissing(_logger, what, directory);
                return files;
            }
            foreach (var path in Directory.EnumerateFiles(directory, EntryPattern, SearchOption.TopDirectoryOnly))
            {
                // Hidden files are editors' and our own temporaries.
                if (!Path.GetFileName(path).StartsWith('.'))
                {
                    files.Add(path);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogDirectoryUnreadable(_logger, what, directory, e.Message);
        }
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    private bool TryReadEntryFile(string path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Pipeline.Extensions.ExtensionEntry? entry)
    {
        entry = null;
        try
        {
            entry = ExtensionEntryJson.Parse(File.ReadAllBytes(path));
            return true;
        }
        catch (ExtensionEntryException e)
        {
            LogBadFile(_logger, path, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogBadFile(_logger, path, e.Message);
        }
        return false;
    }

    // Temp file in the same directory, flushed to disk, then renamed over the old one: a reader
    // (or a crash) sees the old file or the new one, never half of one.
    private async Task WriteAtomicallyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UserOnlyDirectory);
            }
        }
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UserOnlyFile;
            }
            var stream = new FileStream(temporary, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a hidden temporary is never read as an entry.
        }
    }

    private void StartWatching(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return; // already logged by LoadDirectory; Reload() still reads it once it exists
        }
        _reloadTimer = new Timer(_ => ReloadFromWatcher(), null, Timeout.Infinite, Timeout.Infinite);
        try
        {
            // No name filter: an editor's rename from a temporary name must be seen too.
            var watcher = new FileSystemWatcher(directory)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => ScheduleReload();
            watcher.Created += (_, _) => ScheduleReload();
            watcher.Deleted += (_, _) => ScheduleReload();
            watcher.Renamed += (_, _) => ScheduleReload();
            watcher.Error += (_, e) =>
            {
                LogWatchError(_logger, directory, e.GetException().Message);
                ScheduleReload();
            };
            watcher.EnableRaisingEvents = true;
            _watcher = watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            LogWatchError(_logger, directory, e.Message);
        }
    }

    // Every event restarts the delay: a burst of events is one reload.
    private void ScheduleReload()
    {
        if (_disposed)
        {
            return;
        }
        try
        {
            _reloadTimer?.Change(_options.ReloadDelay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile.
        }
    }

    private void ReloadFromWatcher()
    {
        try
        {
            Reload();
        }
        catch (Exception e)
        {
            // A timer callback that throws would end the process.
            LogReloadFailed(_logger, DirectoryPath ?? "", e);
        }
    }
}
