using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Pipeline.Extensions;
using RequestBody = Beamline.Host.Http.RequestBody;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using JsonResponses = Beamline.Host.Http.JsonResponses;

namespace Beamline.Host.Routing;

/// <summary>
/// The router admin views over HTTP (docs/admin.md), each the same writer as its NATS subject:
/// <c>GET /admin/v1/circuit-breakers</c>, <c>POST /admin/v1/dry-run</c>,
/// <c>GET /admin/v1/policies/{tenant_id}/{policy_id}/complexity</c>,
/// <c>GET /admin/v1/extensions/health</c> and <c>GET /admin/v1/provider-stats</c>; the list views take
/// <c>?tenant_id=</c>. Every one needs the tenancy admin key (<c>Authorization: Bearer &lt;AdminKey&gt;</c>),
/// checked before the body is read; without it the answer is 401 <c>unauthorized</c>.
/// </summary>
public static class RouterAdminEndpoints
{
    /// <summary>Maps the router admin views.</summary>
    public static IEndpointRouteBuilder MapRouterAdminEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/admin/v1/circuit-breakers", BreakerStatesAsync);
        endpoints.MapGet("/admin/v1/extensions/health", ExtensionHealthAsync);
        endpoints.MapGet("/admin/v1/provider-stats", ProviderStatsAsync);
        endpoints.MapGet("/admin/v1/policies/{tenantId}/{policyId}/complexity", ComplexityAsync);
        endpoints.MapPost("/admin/v1/dry-run", DryRunAsync);
        return endpoints;
    }

    private static Task BreakerStatesAsync(HttpContext context) => TenantViewAsync(context, BreakerStates.Write);

    private static Task ExtensionHealthAsync(HttpContext context) => TenantViewAsync(context,
        (writer, routing, tenant) => ExtensionHealthView.Write(writer, routing, context.RequestServices.GetRequiredService<ExtensionRunner>(), tenant));

    private static Task ProviderStatsAsync(HttpContext context) => TenantViewAsync(context, ProviderStatsView.Write);

    private static Task ComplexityAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            status = Refuse(context, writer) ?? PipelineComplexityView.Write(writer, Routing(context),
                (string)context.Request.RouteValues["tenantId"]!, (string)context.Request.RouteValues["policyId"]!);
        }
        return WriteAsync(context, status, buffer);
    }

    private static async Task DryRunAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (Refuse(context, writer) is { } refused)
            {
                status = refused;
            }
            else
            {
                var routing = Routing(context);
                var limit = context.RequestServices.GetRequiredService<IOptions<HostOptions>>().Value.MaxDecideRequestBytes;
                using var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false);
                status = body is null
                    ? RouterAdminJson.WriteError(writer, routing.InstanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                        $"request too large: the limit is {limit} bytes", null, Cp1ErrorTypes.TooLarge))
                    : DryRunView.Write(writer, routing, body.Memory.Span, limit);
            }
        }
        await WriteAsync(context, status, buffer).ConfigureAwait(false);
    }

    private static Task TenantViewAsync(HttpContext context, Action<Utf8JsonWriter, RoutingService, string?> view)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (Refuse(context, writer) is { } refused)
            {
                status = refused;
            }
            else
            {
                var tenant = context.Request.Query["tenant_id"].ToString();
                view(writer, Routing(context), tenant.Length == 0 ? null : tenant);
                status = StatusCodes.Status200OK;
            }
        }
        return WriteAsync(context, status, buffer);
    }

    // The admin key first: null when the caller is the operator, else the 401 written.
    private static int? Refuse(HttpContext context, Utf8JsonWriter writer)
    {
        if (TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return null;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return RouterAdminJson.WriteError(writer, Routing(context).InstanceId, new Cp1Error(Cp1ErrorCodes.Unauthorized,
            "a valid admin key is required: Authorization: Bearer <admin key>"));
    }

    private static RoutingService Routing(HttpContext context) => context.RequestServices.GetRequiredService<RoutingService>();

    private static Task WriteAsync(HttpContext context, int status, ArrayBufferWriter<byte> buffer)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
