using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Beamline.SharedState;

/// <summary>Says at start whether state is shared, and why not when the NATS server has no JetStream.</summary>
internal sealed partial class SharedStateStartup(SharedStateConnection connection, ILogger<SharedStateStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Off the start path: the probe waits for NATS up to a few seconds.
        _ = Task.Run(() =>
        {
            if (connection.IsShared)
            {
                LogShared(connection.Options.InstanceId, connection.Options.CountersBucket, connection.Options.ConfigBucket);
            }
            else
            {
                LogNoJetStream();
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Information, "Shared state on JetStream KV as '{InstanceId}' (buckets {Counters}, {Config}, ...).")]
    private partial void LogShared(string instanceId, string counters, string config);

    [LoggerMessage(2, LogLevel.Warning, "The NATS server has no JetStream (start it with -js): budgets, quotas, breakers, sticky sessions "
        + "and configuration stay per control plane. Several control planes on this NATS each grant a tenant its whole quota.")]
    private partial void LogNoJetStream();
}
