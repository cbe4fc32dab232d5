using Microsoft.Extensions.Logging;

namespace Beamline.Host.Routing;

public sealed partial class RoutingService
{
    [LoggerMessage(1, LogLevel.Information, "Routing rebuilt for tenancy routing version {Version}: {Tenants} tenants, {Providers} providers.")]
    private partial void LogRebuilt(long version, int tenants, int providers);

    [LoggerMessage(2, LogLevel.Warning, "Provider '{ProviderId}' is left out of routing: {Reason}")]
    private partial void LogBadProvider(string providerId, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Policy '{PolicyId}' of tenant '{TenantId}' is left out of routing: {Error}")]
    private partial void LogBadPolicy(string tenantId, string policyId, string error);
}
