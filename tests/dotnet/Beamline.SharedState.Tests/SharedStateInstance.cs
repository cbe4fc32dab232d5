using Beamline.SharedState;
using Beamline.SharedState.Meters;
using Beamline.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.SharedState.Tests;

/// <summary>One "control plane" of a test: its own NATS connection and meters, on a shared bucket of a real nats-server.</summary>
internal sealed class SharedStateInstance : IAsyncDisposable
{
    private SharedStateInstance(NatsConnection connection, SharedStateConnection shared, MeterSet meters)
    {
        Connection = connection;
        Shared = shared;
        Meters = meters;
    }

    public NatsConnection Connection { get; }

    public SharedStateConnection Shared { get; }

    public MeterSet Meters { get; }

    public static async Task<SharedStateInstance> StartAsync(string url, string instanceId, string bucket, TimeProvider? time = null,
        Action<SharedStateOptions>? configure = null)
    {
        var options = new SharedStateOptions { InstanceId = instanceId, CountersBucket = bucket, RoutingBucket = bucket + "-routing", ConfigBucket = bucket + "-config" };
        configure?.Invoke(options);
        var connection = new NatsConnection(new NatsOpts { Url = url, Name = instanceId });
        await connection.ConnectAsync();
        var shared = new SharedStateConnection(connection, Options.Create(options));
        var meters = new MeterSet(new MeterStore(shared), time ?? TimeProvider.System, NullLogger<MeterSet>.Instance);
        // As the host's start does: the thread floor, and the bucket created before the first reservation.
        MeterSet.EnsureThreadFloor();
        await shared.CountersAsync(CancellationToken.None);
        return new SharedStateInstance(connection, shared, meters);
    }

    public async ValueTask DisposeAsync()
    {
        Meters.Dispose();
        await Connection.DisposeAsync();
    }
}

/// <summary>A nats-server with JetStream for a test class.</summary>
public sealed class JetStreamFixture : IAsyncLifetime
{
    public NatsServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await NatsServer.StartAsync(jetStream: true);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
