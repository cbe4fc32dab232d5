using System.Collections.Concurrent;
using Beamline.Extensions.Registry;
using Beamline.Pipeline.Extensions;
using Beamline.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Beamline.Extensions.Tests.Registry;

public sealed class ExtensionRegistryTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly string _root = Directory.CreateTempSubdirectory("beamline-registry-").FullName;
    private readonly List<ExtensionRegistry> _registries = [];
    private readonly RecordingLogger _log = new();

    private string EntriesDirectory => Path.Combine(_root, "entries");

    private string StoreDirectory => Path.Combine(_root, "data", "extensions");

    public void Dispose()
    {
        foreach (var registry in _registries)
        {
            registry.Dispose();
        }
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Load_UpstreamFixtureDirectory_ListsItsFourEntriesById()
    {
        var registry = Create(directory: Path.Combine(Cp1Fixtures.Root, "extensions"));

        Assert.Equal(["mask_pii", "normalize_text", "pii_guard", "test_provider"], registry.Entries.Select(e => e.Id));
        Assert.All(registry.Registrations, r => Assert.Equal(ExtensionSource.Directory, r.Source));
        Assert.True(registry.TryGet("pii_guard", out var guard));
        Assert.Equal(ExtensionType.Validator, guard.Type);
        Assert.Equal("beamline.ext.validate.pii_guard.v1", guard.Subject);
        Assert.Equal(1, registry.Version);
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void TryGet_DisabledEntry_IsNotFoundButListed()
    {
        WriteEntry("off.json", """{"id":"off","type":"pre","enabled":false}""");
        var registry = Create();

        Assert.False(registry.TryGet("off", out _));
        Assert.Equal("off", Assert.Single(registry.Entries).Id);
        Assert.True(registry.TryGetRegistration("off", out _));
    }

    [Fact]
    public void Load_MissingDirectory_IsEmptyAndLogged()
    {
        var registry = Create(directory: Path.Combine(_root, "nowhere"));

        Assert.Empty(registry.Entries);
        Assert.Contains(_log.Warnings, w => w.Contains("nowhere", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_BadFiles_AreSkippedAndLogged()
    {
        WriteEntry("a_good.json", """{"id":"good","type":"pre"}""");
        WriteEntry("b_not_json.json", "{oops");
        WriteEntry("c_bad_type.json", """{"id":"bad","type":"filter"}""");
        WriteEntry("d_array.json", "[]");
        WriteEntry("e_other.txt", """{"id":"txt","type":"pre"}""");
        var registry = Create();

        Assert.Equal("good", Assert.Single(registry.Entries).Id);
        Assert.Contains(_log.Warnings, w => w.Contains("b_not_json.json", StringComparison.Ordinal));
        Assert.Contains(_log.Warnings, w => w.Contains("c_bad_type.json", StringComparison.Ordinal) && w.Contains("type", StringComparison.Ordinal));
        Assert.Contains(_log.Warnings, w => w.Contains("d_array.json", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_TwoFilesWithOneId_FirstByFileNameWinsAndTheOtherIsLogged()
    {
        WriteEntry("b.json", """{"id":"dup","type":"post"}""");
        WriteEntry("a.json", """{"id":"dup","type":"pre"}""");
        var registry = Create();

        Assert.True(registry.TryGetRegistration("dup", out var winner));
        Assert.Equal(ExtensionType.Pre, winner.Entry.Type);
        Assert.Equal(Path.Combine(EntriesDirectory, "a.json"), winner.FilePath);
        Assert.Contains(_log.Warnings, w => w.Contains("b.json", StringComparison.Ordinal) && w.Contains("a.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Put_IsLiveAtOnce_GrowsTheVersionAndFiresChanged()
    {
        var registry = Create();
        var changes = 0;
        registry.Changed += () => Interlocked.Increment(ref changes);
        var before = registry.Version;

        var stored = await registry.PutAsync(Entry("new_one", ExtensionType.Post), CancellationToken.None);

        Assert.Equal(ExtensionSource.Admin, stored.Source);
        Assert.True(registry.TryGet("new_one", out var entry));
        Assert.Equal(ExtensionType.Post, entry.Type);
        Assert.Equal(before + 1, registry.Version);
        Assert.Equal(1, changes);
    }

    [Fact]
    public async Task Put_OverridesTheDirectoryEntry_AndDeleteBringsItBack()
    {
        WriteEntry("mask.json", """{"id":"mask_pii","type":"post","subject":"beamline.ext.post.mask_pii.v1","timeout_ms":150}""");
        var registry = Create();

        await registry.PutAsync(Entry("mask_pii", ExtensionType.Post) with { Subject = "beamline.ext.post.mask_pii.v2", TimeoutMs = 900 }, CancellationToken.None);

        Assert.True(registry.TryGetRegistration("mask_pii", out var overriding));
        Assert.Equal(ExtensionSource.Admin, overriding.Source);
        Assert.Equal(Path.Combine(EntriesDirectory, "mask.json"), overriding.OverridesFile);
        Assert.Equal(900, overriding.Entry.TimeoutMs);
        Assert.Single(registry.Entries);

        Assert.Equal(ExtensionDeleteOutcome.Deleted, await registry.DeleteAsync("mask_pii", CancellationToken.None));

        Assert.True(registry.TryGetRegistration("mask_pii", out var restored));
        Assert.Equal(ExtensionSource.Directory, restored.Source);
        Assert.Equal(150, restored.Entry.TimeoutMs);
    }

    [Fact]
    public async Task Put_DisabledOverride_HidesTheDirectoryEntry()
    {
        WriteEntry("x.json", """{"id":"x","type":"pre"}""");
        var registry = Create();

        await registry.PutAsync(Entry("x", ExtensionType.Pre) with { Enabled = false }, CancellationToken.None);

        Assert.False(registry.TryGet("x", out _));
    }

    [Fact]
    public async Task Delete_DirectoryOnlyOrUnknown_ChangesNothing()
    {
        WriteEntry("x.json", """{"id":"x","type":"pre"}""");
        var registry = Create();
        var version = registry.Version;

        Assert.Equal(ExtensionDeleteOutcome.DirectoryOnly, await registry.DeleteAsync("x", CancellationToken.None));
        Assert.Equal(ExtensionDeleteOutcome.NotFound, await registry.DeleteAsync("y", CancellationToken.None));
        Assert.True(registry.TryGet("x", out _));
        Assert.Equal(version, registry.Version);
    }

    [Fact]
    public async Task Put_StoredEntry_SurvivesANewRegistry()
    {
        var first = Create();
        var config = System.Text.Json.JsonDocument.Parse("""{"level":"strict","words":["a","b"]}""").RootElement.Clone();
        await first.PutAsync(Entry("kept", ExtensionType.Validator) with { Config = config, Retry = 2 }, CancellationToken.None);
        await first.PutAsync(Entry("gone", ExtensionType.Pre), CancellationToken.None);
        await first.DeleteAsync("gone", CancellationToken.None);
        first.Dispose();

        var second = Create();

        Assert.True(second.TryGetRegistration("kept", out var kept));
        Assert.Equal(ExtensionSource.Admin, kept.Source);
        Assert.Equal(2, kept.Entry.Retry);
        Assert.Equal("strict", kept.Entry.Config!.Value.GetProperty("level").GetString());
        Assert.False(second.TryGetRegistration("gone", out _));
        Assert.Equal(["kept.json"], Directory.GetFiles(StoreDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Put_Twice_ReplacesTheStoredFileWhole()
    {
        var registry = Create();
        await registry.PutAsync(Entry("x", ExtensionType.Pre) with { Subject = "a.very.long.subject.name.for.the.first.write" }, CancellationToken.None);
        await registry.PutAsync(Entry("x", ExtensionType.Post), CancellationToken.None);

        var stored = ExtensionEntryJson.Parse(File.ReadAllBytes(Path.Combine(StoreDirectory, "x.json")));

        Assert.Equal(ExtensionType.Post, stored.Type);
        Assert.Null(stored.Subject);
        Assert.Single(Directory.GetFiles(StoreDirectory));
    }

    [Fact]
    public void Load_StoredFileNamedAfterAnotherId_IsSkippedAndLogged()
    {
        Directory.CreateDirectory(StoreDirectory);
        File.WriteAllText(Path.Combine(StoreDirectory, "renamed.json"), """{"id":"original","type":"pre"}""");
        File.WriteAllText(Path.Combine(StoreDirectory, ".x.json.123.tmp"), "{half");

        var registry = Create();

        Assert.Empty(registry.Entries);
        Assert.Contains(_log.Warnings, w => w.Contains("renamed.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Put_WithoutStore_KeepsTheEntryInMemory()
    {
        var registry = Create(store: null);

        var stored = await registry.PutAsync(Entry("x", ExtensionType.Pre), CancellationToken.None);

        Assert.Null(stored.FilePath);
        Assert.True(registry.TryGet("x", out _));
    }

    [Fact]
    public void Reload_AfterTheDirectoryChanged_SeesAddedChangedAndRemovedFiles()
    {
        WriteEntry("a.json", """{"id":"a","type":"pre"}""");
        WriteEntry("b.json", """{"id":"b","type":"pre"}""");
        var registry = Create(watch: false);

        WriteEntry("a.json", """{"id":"a","type":"post"}""");
        File.Delete(Path.Combine(EntriesDirectory, "b.json"));
        WriteEntry("c.json", """{"id":"c","type":"validator"}""");
        registry.Reload();

        Assert.Equal(["a", "c"], registry.Entries.Select(e => e.Id));
        Assert.True(registry.TryGet("a", out var a));
        Assert.Equal(ExtensionType.Post, a.Type);
        Assert.Equal(2, registry.Version);
    }

    [Fact]
    public void Reload_FileBecameBad_DropsItAndKeepsTheRest()
    {
        WriteEntry("a.json", """{"id":"a","type":"pre"}""");
        WriteEntry("b.json", """{"id":"b","type":"pre"}""");
        var registry = Create(watch: false);

        WriteEntry("b.json", """{"id":"b","type":"pre","retry":99}""");
        registry.Reload();

        Assert.Equal(["a"], registry.Entries.Select(e => e.Id));
        Assert.Contains(_log.Warnings, w => w.Contains("b.json", StringComparison.Ordinal) && w.Contains("retry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Watcher_FileAddedAndChanged_IsReloadedWithoutACall()
    {
        WriteEntry("a.json", """{"id":"a","type":"pre"}""");
        var registry = Create();

        await UntilAsync(registry, () => WriteEntry("b.json", """{"id":"b","type":"validator"}"""), r => r.TryGet("b", out _));
        await UntilAsync(registry, () => WriteEntry("a.json", """{"id":"a","type":"post"}"""), r => r.TryGet("a", out var a) && a.Type == ExtensionType.Post);
        await UntilAsync(registry, () => File.Delete(Path.Combine(EntriesDirectory, "b.json")), r => !r.TryGet("b", out _));
    }

    [Fact]
    public async Task Watcher_StoredOverride_StaysOverADirectoryReload()
    {
        WriteEntry("a.json", """{"id":"a","type":"pre","timeout_ms":10}""");
        var registry = Create(watch: false);
        await registry.PutAsync(Entry("a", ExtensionType.Pre) with { TimeoutMs = 20 }, CancellationToken.None);

        WriteEntry("a.json", """{"id":"a","type":"pre","timeout_ms":30}""");
        registry.Reload();

        Assert.True(registry.TryGet("a", out var a));
        Assert.Equal(20, a.TimeoutMs);
    }

    [Fact]
    public async Task Readers_DuringWrites_AlwaysSeeACompleteSnapshot()
    {
        WriteEntry("base.json", """{"id":"base","type":"pre"}""");
        var registry = Create(watch: false);
        using var stop = new CancellationTokenSource();
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(() =>
        {
            var reads = 0;
            do
            {
                var entries = registry.Entries;
                Assert.True(entries.Count >= 1);
                Assert.True(registry.TryGet("base", out _));
                for (var i = 1; i < entries.Count; i++)
                {
                    Assert.True(string.CompareOrdinal(entries[i - 1].Id, entries[i].Id) < 0);
                }
                reads++;
                reading.TrySetResult();
            }
            while (!stop.IsCancellationRequested);
            return reads;
        });
        await reading.Task.WaitAsync(Wait);

        for (var i = 0; i < 50; i++)
        {
            await registry.PutAsync(Entry($"e{i}", ExtensionType.Post), CancellationToken.None);
        }
        await stop.CancelAsync();

        Assert.True(await reader > 0);
        Assert.Equal(51, registry.Entries.Count);
    }

    private static ExtensionEntry Entry(string id, ExtensionType type) => new() { Id = id, Type = type };

    private static async Task UntilAsync(ExtensionRegistry registry, Action change, Func<ExtensionRegistry, bool> condition)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged()
        {
            if (condition(registry))
            {
                seen.TrySetResult();
            }
        }
        registry.Changed += OnChanged;
        try
        {
            change();
            await seen.Task.WaitAsync(Wait);
        }
        finally
        {
            registry.Changed -= OnChanged;
        }
    }

    private void WriteEntry(string name, string json)
    {
        Directory.CreateDirectory(EntriesDirectory);
        File.WriteAllText(Path.Combine(EntriesDirectory, name), json);
    }

    private ExtensionRegistry Create(string? directory = "", string? store = "", bool watch = true)
    {
        var registry = new ExtensionRegistry(Options.Create(new ExtensionsOptions
        {
            Directory = directory == "" ? EntriesDirectory : directory,
            StoreDirectory = store == "" ? StoreDirectory : store,
            WatchDirectory = watch,
            ReloadDelay = TimeSpan.FromMilliseconds(50),
        }), _log);
        _registries.Add(registry);
        return registry;
    }

    private sealed class RecordingLogger : ILogger<ExtensionRegistry>
    {
        private readonly ConcurrentQueue<string> _warnings = new();

        public IReadOnlyCollection<string> Warnings => _warnings;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                _warnings.Enqueue(formatter(state, exception));
            }
        }
    }
}
