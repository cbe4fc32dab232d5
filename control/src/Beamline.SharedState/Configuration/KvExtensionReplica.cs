using System.Text;
using Beamline.Extensions.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.KeyValueStore;

namespace Beamline.SharedState.Configuration;

/// <summary>
/// The extension registry's admin entries shared through the configuration bucket
/// (<c>extension.&lt;id&gt;</c>, the entry's JSON as the admin API takes it). An entry put or deleted
/// through the admin API on one control plane is put or deleted on every other one through the
/// watch; directory entries stay per control plane (they come from each one's files). Last writer
/// wins, by KV revision, as for tenancy.
/// </summary>
internal sealed partial class KvExtensionReplica(SharedStateConnection connection, IServiceProvider services, ILogger<KvExtensionReplica> logger)
    : BackgroundService
{
    private const string Prefix = "extension.";

    private readonly Lock _viewLock = new();
    private readonly Dictionary<string, string> _view = new(StringComparer.Ordinal);
    private Dictionary<string, string> _local = new(StringComparer.Ordinal);
    private ExtensionRegistry? _registry;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _registry = services.GetService<ExtensionRegistry>();
        if (_registry is null || !await Task.Run(() => connection.IsShared, stoppingToken).ConfigureAwait(false))
        {
            return;
        }
        _local = Stored(_registry);
        _registry.Changed += OnLocalChange;
        try
        {
            await WatchLoopAsync(_registry, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            _registry.Changed -= OnLocalChange;
        }
    }

    private async Task WatchLoopAsync(ExtensionRegistry registry, CancellationToken stoppingToken)
    {
        var seeded = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var store = await connection.ConfigAsync(stoppingToken).ConfigureAwait(false);
                if (!seeded)
                {
                    // This control plane's admin entries that the bucket lacks go into it.
                    foreach (var (id, json) in Stored(registry))
                    {
                        // An entry the bucket already has (or had and deleted) is the bucket's: the create fails and is ignored.
                        await store.TryCreateAsync(Prefix + KvKeys.Token(id), Encoding.UTF8.GetBytes(json), cancellationToken: stoppingToken).ConfigureAwait(false);
                    }
                    seeded = true;
                }
                await foreach (var entry in store.WatchAsync<byte[]>(Prefix + ">", cancellationToken: stoppingToken).ConfigureAwait(false))
                {
                    await ApplyAsync(registry, entry, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The watch is restarted: NATS may come back.
            catch (Exception error)
#pragma warning restore CA1031
            {
                if (connection.NoJetStream)
                {
                    return;
                }
                LogWatchFailed(error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ApplyAsync(ExtensionRegistry registry, NatsKVEntry<byte[]> entry, CancellationToken cancellationToken)
    {
        var id = KvKeys.Id(entry.Key[Prefix.Length..]);
        if (entry.Operation == NatsKVOperation.Put && entry.Value is { } value)
        {
            var json = Encoding.UTF8.GetString(value);
            lock (_viewLock)
            {
                _view[id] = json;
            }
            if (Stored(registry).TryGetValue(id, out var local) && local == json)
            {
                return;
            }
            try
            {
                await registry.PutAsync(ExtensionEntryJson.Parse(value, id), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or System.Text.Json.JsonException)
            {
                LogBadEntry(id, e.Message);
            }
        }
        else
        {
            lock (_viewLock)
            {
                _view.Remove(id);
            }
            await registry.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
        }
    }

    // A local change (admin API, or one applied from the bucket): what changed and differs from the bucket is written.
    private void OnLocalChange()
    {
        if (_registry is not { } registry || connection.NoJetStream)
        {
            return;
        }
        var now = Stored(registry);
        var before = Interlocked.Exchange(ref _local, now);
        _ = PublishAsync(before, now);
    }

    private async Task PublishAsync(Dictionary<string, string> before, Dictionary<string, string> now)
    {
        try
        {
            var store = await connection.ConfigAsync(CancellationToken.None).ConfigureAwait(false);
            foreach (var (id, json) in now)
            {
                bool known;
                lock (_viewLock)
                {
                    known = _view.TryGetValue(id, out var shared) && shared == json;
                }
                if (!known && (!before.TryGetValue(id, out var old) || old != json))
                {
                    await store.PutAsync(Prefix + KvKeys.Token(id), Encoding.UTF8.GetBytes(json)).ConfigureAwait(false);
                }
            }
            foreach (var id in before.Keys)
            {
                bool shared;
                lock (_viewLock)
                {
                    shared = _view.ContainsKey(id);
                }
                if (!now.ContainsKey(id) && shared)
                {
                    await store.DeleteAsync(Prefix + KvKeys.Token(id)).ConfigureAwait(false);
                }
            }
        }
#pragma warning disable CA1031 // NATS down: the change stays local; logged.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogPublishFailed(error.Message);
        }
    }

    private static Dictionary<string, string> Stored(ExtensionRegistry registry)
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var registration in registry.Registrations)
        {
            if (registration.Source == ExtensionSource.Admin)
            {
                stored[registration.Id] = Encoding.UTF8.GetString(ExtensionEntryJson.ToUtf8Bytes(registration.Entry));
            }
        }
        return stored;
    }

    [LoggerMessage(1, LogLevel.Warning, "Shared extensions: the watch stopped ({Reason}); restarting it.")]
    private partial void LogWatchFailed(string reason);

    [LoggerMessage(2, LogLevel.Warning, "Shared extensions: entry '{Id}' from the bucket is not valid: {Reason}.")]
    private partial void LogBadEntry(string id, string reason);

    [LoggerMessage(3, LogLevel.Error, "Shared extensions: a change could not be shared ({Reason}); it stays on this control plane.")]
    private partial void LogPublishFailed(string reason);
}
