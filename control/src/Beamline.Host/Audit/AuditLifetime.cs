using Beamline.Audit;
using Microsoft.Extensions.Hosting;

namespace Beamline.Host.Audit;

/// <summary>
/// Opens the audit log when the host starts (a log that cannot be opened stops the start) and
/// flushes it when the host stops. It is closed, draining what requests still append, only when
/// the host's services are disposed, after every request has ended.
/// </summary>
internal sealed class AuditLifetime(AuditLog log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => log.FlushAsync(cancellationToken);
}
