using Beamline.Dispatch;
using Beamline.Nats;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Beamline.Host.Health;

/// <summary>
/// <c>GET /healthz</c>: 200 <c>{"status":"ok",...}</c> while the control plane can serve what it is
/// configured for; 503 <c>{"status":"degraded","nats":"reconnecting"|"closed",...}</c> while its NATS
/// connection is down (it keeps retrying; requests needing NATS fail fast meanwhile).
/// </summary>
public static class HealthEndpoints
{
    /// <summary>Maps <c>/healthz</c>.</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/healthz", (IBlockDispatcher dispatcher, IServiceProvider services) =>
        {
            var health = Read(dispatcher, services.GetService<NatsConnectionMonitor>());
            return Results.Json(health, HostJsonContext.Default.HealthResponse,
                statusCode: health.Status == "ok" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    internal static HealthResponse Read(IBlockDispatcher dispatcher, NatsConnectionMonitor? monitor) => monitor switch
    {
        null => new HealthResponse("ok", dispatcher.Mode),
        { IsConnected: true } => new HealthResponse("ok", dispatcher.Mode, monitor.State, monitor.ServerId),
        _ => new HealthResponse("degraded", dispatcher.Mode, monitor.State),
    };
}

/// <summary>The same answer for the gRPC health service (grpc.health.v1), through ASP.NET Core health checks.</summary>
internal sealed class NatsHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(services.GetService<NatsConnectionMonitor>() is { IsConnected: false } monitor
            ? HealthCheckResult.Unhealthy($"NATS is {monitor.State}")
            : HealthCheckResult.Healthy());
}
