using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Beamline.Host.Workers;

/// <summary>
/// Feeds the <see cref="WorkerDirectory"/> from <c>caf.worker.heartbeat.v2</c> (protobuf
/// <see cref="WorkerHeartbeat"/>) while the control plane runs with NATS. The subscription is
/// NATS.Net's: it survives reconnects. A malformed heartbeat is counted and skipped.
/// </summary>
internal sealed partial class WorkerHeartbeatListener(INatsConnection connection, WorkerDirectory directory, ILogger<WorkerHeartbeatListener> logger)
    : BackgroundService
{
    /// <summary>The subject workers publish their protobuf heartbeat on.</summary>
    public const string Subject = "caf.worker.heartbeat.v2";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var message in connection.SubscribeAsync(Subject, serializer: NatsRawSerializer<NatsMemoryOwner<byte>>.Default,
                cancellationToken: stoppingToken).ConfigureAwait(false))
            {
                using var data = message.Data;
                try
                {
                    directory.Observe(WorkerHeartbeat.Parser.ParseFrom(data.Memory.Span));
                }
                catch (InvalidProtocolBufferException e)
                {
                    directory.Malformed();
                    LogMalformed(e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A worker heartbeat could not be read: {Reason}")]
    private partial void LogMalformed(string reason);
}
