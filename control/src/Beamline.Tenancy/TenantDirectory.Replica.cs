using Beamline.Tenancy.Replication;

namespace Beamline.Tenancy;

// Replication: several control planes share one configuration (JetStream KV). Each keeps its own
// database as a copy; a change made here is published as entities, and the shared entities
// replace the local copy when another control plane changed them.
public sealed partial class TenantDirectory
{
    /// <summary>The entities of the current configuration (key → JSON), as <see cref="ITenancyReplica"/> describes them.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ExportAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return new Dictionary<string, string>(_exported, StringComparer.Ordinal);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Publishes every change made from now on to <paramref name="replica"/>.</summary>
    public void AttachReplica(ITenancyReplica replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        Volatile.Write(ref _replica, replica);
    }

    /// <summary>
    /// Makes the configuration equal to the shared entities <paramref name="entities"/> returns,
    /// read under the write lock (so a change being published here is in them). Entities whose
    /// tenant or team is missing are left out. Nothing is published back.
    /// </summary>
    /// <returns>False when the configuration already held exactly those entities (nothing was rebuilt).</returns>
    public async Task<bool> ApplyReplicaAsync(Func<IReadOnlyDictionary<string, string>> entities, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_hasher is null)
            {
                throw new InvalidOperationException("Tenancy is not initialized yet.");
            }
            var rows = TenancyEntities.Import(entities());
            var wanted = TenancyEntities.Export(rows);
            var (puts, deletes) = TenancyEntities.Diff(_exported, wanted);
            if (puts.Count == 0 && deletes.Count == 0)
            {
                return false;
            }
            await _store.ReplaceAllAsync(rows, NowMs(), cancellationToken).ConfigureAwait(false);
            await ReloadAsync(routingChanged: true, CancellationToken.None).ConfigureAwait(false);
            LogReplicaApplied(puts.Count, deletes.Count);
            return true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task PublishAsync(ITenancyReplica replica, Dictionary<string, string> puts, List<string> deletes)
    {
        if (puts.Count == 0 && deletes.Count == 0)
        {
            return;
        }
        try
        {
            await replica.PublishAsync(puts, deletes, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The change is committed here; the replica retries or reconciles at its next start.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogReplicaPublishFailed(error);
        }
    }
}
