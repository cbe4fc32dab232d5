using NATS.Client.KeyValueStore;

namespace Beamline.SharedState.Meters;

/// <summary>
/// The counters bucket as meters use it: blocking reads and compare-and-set writes bounded by
/// <see cref="SharedStateOptions.OperationTimeout"/>. Blocking, because the budget and quota ports
/// are synchronous (they sit on the request path); a meter calls here only when its local
/// allowance is spent, and from the background flusher.
/// </summary>
internal sealed class MeterStore(SharedStateConnection connection)
{
    // When the NATS server has no JetStream: the same meters over this process's memory (state per control plane).
    private readonly Dictionary<string, (byte[] Value, ulong Revision)> _local = new(StringComparer.Ordinal);

    public SharedStateOptions Options => connection.Options;

    /// <summary>Whether NATS is connected now.</summary>
    public bool IsConnected => connection.IsConnected;

    /// <summary>Creates the counters bucket if needed.</summary>
    public Task WarmUpAsync(CancellationToken cancellationToken) => connection.CountersAsync(cancellationToken);

    /// <summary>The meter's value and revision (0 when it has none yet).</summary>
    /// <exception cref="MeterStoreUnavailableException">NATS did not answer in time.</exception>
    public (MeterValue Value, ulong Revision) Get(string key)
    {
        if (!connection.NoJetStream)
        {
            try
            {
                return GetShared(key);
            }
            catch (MeterStoreUnavailableException) when (connection.NoJetStream)
            {
                // This call found that the server has no JetStream: from now on, this process's memory.
            }
        }
        return GetLocal(key);
    }

    /// <summary>Writes <paramref name="value"/> if the meter is still at <paramref name="revision"/>: the new revision, or null when another wrote first.</summary>
    /// <exception cref="MeterStoreUnavailableException">NATS did not answer in time.</exception>
    public ulong? TryWrite(string key, MeterValue value, ulong revision)
    {
        if (!connection.NoJetStream)
        {
            try
            {
                return TryWriteShared(key, value, revision);
            }
            catch (MeterStoreUnavailableException) when (connection.NoJetStream)
            {
                // As in Get.
            }
        }
        return TryWriteLocal(key, value, revision);
    }

    private (MeterValue Value, ulong Revision) GetShared(string key) => Run(async token =>
    {
        var store = await connection.CountersAsync(token).ConfigureAwait(false);
        var result = await store.TryGetEntryAsync<byte[]>(key, cancellationToken: token).ConfigureAwait(false);
        if (!result.Success)
        {
            return result.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException
                ? (new MeterValue(), 0UL)
                : throw new MeterStoreUnavailableException(result.Error.Message, result.Error);
        }
        return (MeterValue.Decode(result.Value.Value), result.Value.Revision);
    });

    private ulong? TryWriteShared(string key, MeterValue value, ulong revision) => Run<ulong?>(async token =>
    {
        var store = await connection.CountersAsync(token).ConfigureAwait(false);
        var bytes = value.Encode();
        var result = revision == 0
            ? await store.TryCreateAsync(key, bytes, cancellationToken: token).ConfigureAwait(false)
            : await store.TryUpdateAsync(key, bytes, revision, cancellationToken: token).ConfigureAwait(false);
        if (result.Success)
        {
            return result.Value;
        }
        return result.Error is NatsKVWrongLastRevisionException or NatsKVCreateException
            ? null
            : throw new MeterStoreUnavailableException(result.Error.Message, result.Error);
    });

    private (MeterValue, ulong) GetLocal(string key)
    {
        lock (_local)
        {
            return _local.TryGetValue(key, out var entry) ? (MeterValue.Decode(entry.Value), entry.Revision) : (new MeterValue(), 0UL);
        }
    }

    private ulong? TryWriteLocal(string key, MeterValue value, ulong revision)
    {
        lock (_local)
        {
            var current = _local.TryGetValue(key, out var entry) ? entry.Revision : 0UL;
            if (current != revision)
            {
                return null;
            }
            _local[key] = (value.Encode(), current + 1);
            return current + 1;
        }
    }

    private T Run<T>(Func<CancellationToken, Task<T>> operation)
    {
        if (!connection.IsConnected)
        {
            throw new MeterStoreUnavailableException("NATS is not connected");
        }
        using var timeout = new CancellationTokenSource(Options.OperationTimeout);
        try
        {
            return operation(timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception error) when (error is not MeterStoreUnavailableException)
        {
            connection.Classify(error);
            throw new MeterStoreUnavailableException(error.Message, error);
        }
    }
}

/// <summary>The counters bucket could not be read or written in time (NATS down, JetStream unavailable).</summary>
public sealed class MeterStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MeterStoreUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public MeterStoreUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public MeterStoreUnavailableException(string message, Exception inner) : base(message, inner)
    {
    }
}
