using Microsoft.Extensions.Hosting;

namespace Beamline.Tenancy.Internal;

/// <summary>Opens the database and builds the first snapshot before the server takes requests.</summary>
internal sealed class TenancyStartup(TenantDirectory directory) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => directory.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
