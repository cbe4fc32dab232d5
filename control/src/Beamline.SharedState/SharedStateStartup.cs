using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Beamline.SharedState;

/// <summary>Says at start that state is shared (the connection warns when the NATS server has no JetStream).</summary>
internal sealed partial class SharedStateStartup(SharedStateConnection connection, ILogger<SharedStateStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Off the start path: the probe waits for NATS up to a few seconds.
        _ = Task.Run(() =>
        {
            // Without JetStream the connection itself warns (also when that is found out later).
            if (connection.IsShared)
            {
                LogShared(connection.Options.InstanceId, connection.Options.CountersBucket, connection.Options.ConfigBucket);
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Information, "Shared state on JetStream KV as '{InstanceId}' (buckets {Counters}, {Config}, ...).")]
    private partial void LogShared(string instanceId, string counters, string config);
}
