using System.Text.Json;
using Beamline.Cp1;
using Beamline.Host.Http;
using Beamline.Pipeline.Telemetry;
using Beamline.Tenancy.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Metrics;

/// <summary>
/// <c>GET /metrics</c>: the Prometheus text exposition of the <c>Beamline</c> meter (docs/observability.md).
/// Open by default, as scrapers seldom send credentials; with <c>Beamline:Metrics:RequireAdminKey</c>
/// it asks for the tenancy admin key (<c>Authorization: Bearer</c>) and answers 401 <c>unauthorized</c> without it.
/// </summary>
public static class MetricsEndpoints
{
    /// <summary>The scrape endpoint's path.</summary>
    public const string Path = "/metrics";

    /// <summary>Maps the scrape endpoint.</summary>
    public static IEndpointRouteBuilder MapBeamlineMetrics(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.Enabled)
        {
            return endpoints;
        }
        _ = endpoints.ServiceProvider.GetRequiredService<BreakerGauges>(); // its gauges exist from now on
        _ = endpoints.ServiceProvider.GetService<Workers.WorkerGauges>(); // with NATS: the workers' pools
        endpoints.MapPrometheusScrapingEndpoint(Path, meterProvider: null, configureBranchedPipeline: options.RequireAdminKey
            ? branch => branch.Use(static (context, next) => TenancyAdminEndpoints.IsAdminAuthorized(context.Request) ? next(context) : UnauthorizedAsync(context))
            : null, optionsName: null);
        return endpoints;
    }

    private static Task UnauthorizedAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return JsonResponses.WriteAsync(context, StatusCodes.Status401Unauthorized, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            Http.Cp1Error.Write(writer, Cp1ErrorCodes.Unauthorized, "a valid admin key is required: Authorization: Bearer <admin key>");
        });
    }
}
