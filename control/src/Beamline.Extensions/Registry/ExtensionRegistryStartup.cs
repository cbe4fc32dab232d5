using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Beamline.Extensions.Registry;

/// <summary>Loads the registry when the host starts, so that a bad entry file is reported then, not at the first request.</summary>
internal sealed partial class ExtensionRegistryStartup(ExtensionRegistry registry, ILogger<ExtensionRegistryStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var stored = 0;
        foreach (var registration in registry.Registrations)
        {
            if (registration.Source == ExtensionSource.Admin)
            {
                stored++;
            }
        }
        LogLoaded(logger, registry.Registrations.Count, registry.DirectoryPath ?? "(none)", stored, registry.StorePath ?? "(memory)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Information, "Extension registry: {Count} entries from the directory {Directory} and the store {Store} ({Stored} stored).")]
    private static partial void LogLoaded(ILogger logger, int count, string directory, int stored, string store);
}
