using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Beamline.Pipeline.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Beamline.Extensions.Registry;

/// <summary>
/// The extension registry: the entry files of <see cref="ExtensionsOptions.Directory"/> (watched
/// and reloaded on change, see <see cref="Reload"/>) with the entries stored through the admin API
/// over them (<see cref="PutAsync"/>, <see cref="DeleteAsync"/>; kept in
/// <see cref="ExtensionsOptions.StoreDirectory"/>, one file per entry, so they survive a restart).
/// A stored entry overrides a directory entry of the same id. Every change publishes a new
/// immutable snapshot with one reference swap: readers never lock and never see half a change;
/// <see cref="Version"/> counts the snapshots and <see cref="Changed"/> fires after each.
/// A bad file is logged and skipped; nothing read from disk throws out of the registry.
/// </summary>
public sealed partial class ExtensionRegistry : IExtensionRegistry, IDisposable
{
    private readonly ExtensionsOptions _options;
    private readonly ILogger _logger;

    // Serializes every change (admin writes and directory reloads); readers use _snapshot only.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ImmutableDictionary<string, ExtensionRegistration> _directoryEntries = ImmutableDictionary.Create<string, ExtensionRegistration>(StringComparer.Ordinal);
    private ImmutableDictionary<string, ExtensionRegistration> _storedEntries = ImmutableDictionary.Create<string, ExtensionRegistration>(StringComparer.Ordinal);
    private Snapshot _snapshot = Snapshot.Empty;
    private long _version;
    private FileSystemWatcher? _watcher;
    private Timer? _reloadTimer;
    private volatile bool _disposed;

    /// <summary>Loads the stored entries and the directory, and starts watching the directory.</summary>
    public ExtensionRegistry(IOptions<ExtensionsOptions> options, ILogger<ExtensionRegistry>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        DirectoryPath = string.IsNullOrWhiteSpace(_options.Directory) ? null : Path.GetFullPath(_options.Directory);
        StorePath = string.IsNullOrWhiteSpace(_options.StoreDirectory) ? null : Path.GetFullPath(_options.StoreDirectory);

        _gate.Wait();
        try
        {
            _storedEntries = LoadStore();
            _directoryEntries = LoadDirectory();
            Publish();
        }
        finally
        {
            _gate.Release();
        }
        if (DirectoryPath is not null && _options.WatchDirectory)
        {
            StartWatching(DirectoryPath);
        }
    }

    /// <summary>Fires after every published change (an admin write or a directory reload), on the thread that made it.</summary>
    public event Action? Changed;

    /// <summary>The watched directory of entry files, absolute; null when none is configured.</summary>
    public string? DirectoryPath { get; }

    /// <summary>Where admin entries are stored, absolute; null when they are kept in memory only.</summary>
    public string? StorePath { get; }

    /// <summary>Counts the published snapshots: it grows by one at every change (1 after loading).</summary>
    public long Version => Volatile.Read(ref _snapshot).Version;

    /// <inheritdoc />
    public IReadOnlyList<ExtensionEntry> Entries => Volatile.Read(ref _snapshot).Entries;

    /// <summary>Every effective entry (enabled or not) with its source, ordered by id.</summary>
    public IReadOnlyList<ExtensionRegistration> Registrations => Volatile.Read(ref _snapshot).Registrations;

    /// <inheritdoc />
    public bool TryGet(string id, [NotNullWhen(true)] out ExtensionEntry? entry)
    {
        ArgumentNullException.ThrowIfNull(id);
        return Volatile.Read(ref _snapshot).Enabled.TryGetValue(id, out entry);
    }

    /// <summary>The effective entry <paramref name="id"/>, enabled or not, with its source.</summary>
    public bool TryGetRegistration(string id, [NotNullWhen(true)] out ExtensionRegistration? registration)
    {
        ArgumentNullException.ThrowIfNull(id);
        return Volatile.Read(ref _snapshot).ById.TryGetValue(id, out registration);
    }

    /// <summary>
    /// Stores <paramref name="entry"/> (the admin API's PUT): written to
    /// <c>&lt;StoreDirectory&gt;/&lt;id&gt;.json</c> through a temporary file and a rename, then
    /// live. It replaces a stored entry of the same id and overrides a directory entry.
    /// </summary>
    /// <returns>The entry as it is now registered.</returns>
    /// <exception cref="IOException">The file could not be written; nothing changed.</exception>
    public async Task<ExtensionRegistration> PutAsync(ExtensionEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (ExtensionEntryJson.CheckId(entry.Id) is { } reason)
        {
            throw new ArgumentException(reason, nameof(entry));
        }
        ExtensionRegistration registration;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string? path = null;
            if (StorePath is not null)
            {
                path = StoreFile(entry.Id);
                await WriteAtomicallyAsync(path, ExtensionEntryJson.ToUtf8Bytes(entry), cancellationToken).ConfigureAwait(false);
            }
            _storedEntries = _storedEntries.SetItem(entry.Id, new ExtensionRegistration(entry, ExtensionSource.Admin, path));
            Publish();
            registration = Volatile.Read(ref _snapshot).ById[entry.Id];
        }
        finally
        {
            _gate.Release();
        }
        LogStored(_logger, entry.Id, registration.FilePath ?? "memory");
        RaiseChanged();
        return registration;
    }

    /// <summary>
    /// Removes the stored entry <paramref name="id"/> (the admin API's DELETE); a directory entry
    /// of the same id applies again. An entry that only a directory file gives is not removed.
    /// </summary>
    /// <exception cref="IOException">The stored file could not be deleted; nothing changed.</exception>
    public async Task<ExtensionDeleteOutcome> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_storedEntries.TryGetValue(id, out var stored))
            {
                return _directoryEntries.ContainsKey(id) ? ExtensionDeleteOutcome.DirectoryOnly : ExtensionDeleteOutcome.NotFound;
            }
            if (stored.FilePath is not null)
            {
                File.Delete(stored.FilePath);
            }
            _storedEntries = _storedEntries.Remove(id);
            Publish();
        }
        finally
        {
            _gate.Release();
        }
        LogDeleted(_logger, id);
        RaiseChanged();
        return ExtensionDeleteOutcome.Deleted;
    }

    /// <summary>
    /// Reads the directory again now (the watcher calls this after changes settle). Bad files are
    /// logged and skipped; this never throws for what is on disk.
    /// </summary>
    public void Reload()
    {
        if (_disposed)
        {
            return;
        }
        _gate.Wait();
        try
        {
            _directoryEntries = LoadDirectory();
            Publish();
        }
        finally
        {
            _gate.Release();
        }
        LogReloaded(_logger, DirectoryPath ?? "(none)", _directoryEntries.Count, Version);
        RaiseChanged();
    }

    /// <summary>Stops watching the directory.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _watcher?.Dispose();
        _reloadTimer?.Dispose();
    }

    // Merges the two sources into a new snapshot and swaps it in; called holding _gate.
    private void Publish()
    {
        var merged = new Dictionary<string, ExtensionRegistration>(_directoryEntries, StringComparer.Ordinal);
        foreach (var (id, stored) in _storedEntries)
        {
            merged[id] = _directoryEntries.TryGetValue(id, out var file) ? stored with { OverridesFile = file.FilePath } : stored;
        }
        var ordered = merged.Values.OrderBy(r => r.Id, StringComparer.Ordinal).ToImmutableArray();
        var snapshot = new Snapshot(
            ++_version,
            merged.ToFrozenDictionary(StringComparer.Ordinal),
            ordered,
            ordered.Select(r => r.Entry).ToImmutableArray(),
            ordered.Where(r => r.Entry.Enabled).ToFrozenDictionary(r => r.Id, r => r.Entry, StringComparer.Ordinal));
        Volatile.Write(ref _snapshot, snapshot);
    }

    private void RaiseChanged()
    {
        try
        {
            Changed?.Invoke();
        }
        catch (Exception e)
        {
            // A subscriber's bug must not undo or fail a change that is already live.
            LogChangedHandlerFailed(_logger, e);
        }
    }

    // The lists are ImmutableArrays boxed once here, not at every read.
    private sealed record Snapshot(
        long Version,
        FrozenDictionary<string, ExtensionRegistration> ById,
        IReadOnlyList<ExtensionRegistration> Registrations,
        IReadOnlyList<ExtensionEntry> Entries,
        FrozenDictionary<string, ExtensionEntry> Enabled)
    {
        public static readonly Snapshot Empty = new(0, FrozenDictionary<string, ExtensionRegistration>.Empty,
            ImmutableArray<ExtensionRegistration>.Empty, ImmutableArray<ExtensionEntry>.Empty,
            FrozenDictionary<string, ExtensionEntry>.Empty);
    }
}
