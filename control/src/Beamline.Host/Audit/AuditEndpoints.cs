using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Beamline.Audit;
using Beamline.Cp1;
using ApiKeys = Beamline.Host.Http.ApiKeys;
using Beamline.Host.Routing;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Audit;

/// <summary>
/// Reading the audit chain over HTTP (docs/audit.md), a page at a time:
/// <c>GET /admin/v1/audit?tenant=&amp;after=&amp;limit=&amp;kind=</c> with the admin key (every
/// tenant's entries and system-wide ones; <c>tenant</c> keeps one tenant's), and
/// <c>GET /v1/audit?after=&amp;limit=&amp;kind=</c> with a tenant's API key, which sees only its own
/// tenant's entries. A tenant key on the admin path is refused (403 <c>denied</c>), as is a
/// <c>tenant</c> other than the key's own on <c>/v1/audit</c> (<c>tenant_id</c> is taken for
/// <c>tenant</c>, as the other admin views name it). <c>after</c> is the cursor
/// (<c>next_after</c> of the previous page, 0 to start); <c>limit</c> 1 to 1000, default 100.
/// </summary>
public static class AuditEndpoints
{
    /// <summary>The admin path.</summary>
    public const string AdminPath = "/admin/v1/audit";

    /// <summary>The tenants' path.</summary>
    public const string TenantPath = "/v1/audit";

    private const int DefaultLimit = 100;

    /// <summary>Maps both paths.</summary>
    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(AdminPath, AdminQueryAsync);
        endpoints.MapGet(TenantPath, TenantQueryAsync);
        return endpoints;
    }

    private static Task AdminQueryAsync(HttpContext context)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return TenantPrincipal(context) is not null
                ? ErrorAsync(context, new Cp1Error(Cp1ErrorCodes.Denied, $"a tenant's API key reads its own audit entries at GET {TenantPath}"))
                : UnauthorizedAsync(context, "a valid admin key is required: Authorization: Bearer <admin key>");
        }
        var tenant = TenantFilter(context.Request);
        return QueryAsync(context, tenant.Length == 0 ? null : tenant);
    }

    private static Task TenantQueryAsync(HttpContext context)
    {
        if (TenantPrincipal(context) is not { } principal)
        {
            return UnauthorizedAsync(context, "a valid API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>");
        }
        var tenant = TenantFilter(context.Request);
        if (tenant.Length > 0 && !string.Equals(tenant, principal.TenantId, StringComparison.Ordinal))
        {
            return ErrorAsync(context, new Cp1Error(Cp1ErrorCodes.Denied, "an API key reads only its own tenant's audit entries", "tenant"));
        }
        return QueryAsync(context, principal.TenantId);
    }

    private static Task QueryAsync(HttpContext context, string? tenantId)
    {
        var query = context.Request.Query;
        long after = 0;
        if (query["after"].ToString() is { Length: > 0 } afterText
            && !long.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            return ErrorAsync(context, Invalid("after must be a non-negative integer (next_after of the previous page)", "after"));
        }
        var limit = DefaultLimit;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > AuditLog.MaxPageSize))
        {
            return ErrorAsync(context, Invalid($"limit must be an integer from 1 to {AuditLog.MaxPageSize}", "limit"));
        }
        string? kind = null;
        if (query["kind"].ToString() is { Length: > 0 } kindText)
        {
            if (!AuditKinds.IsKnown(kindText))
            {
                return ErrorAsync(context, Invalid($"kind must be one of {AuditKinds.Decision}, {AuditKinds.Execution}, {AuditKinds.Admin}", "kind"));
            }
            kind = kindText;
        }
        var page = context.RequestServices.GetRequiredService<AuditLog>().Query(tenantId, after, limit, kind);
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            AuditJson.WritePage(writer, page);
        }
        return WriteAsync(context, StatusCodes.Status200OK, buffer);
    }

    // `tenant`, or `tenant_id` as the other admin views name it.
    private static string TenantFilter(HttpRequest request)
        => request.Query["tenant"].ToString() is { Length: > 0 } tenant ? tenant : request.Query["tenant_id"].ToString();

    private static TenantPrincipal? TenantPrincipal(HttpContext context)
        => ApiKeys.From(context.Request) is { } apiKey
            && context.RequestServices.GetRequiredService<ITenantDirectory>().TryAuthenticate(apiKey, out var principal)
            ? principal
            : null;

    private static Cp1Error Invalid(string message, string field) => new(Cp1ErrorCodes.InvalidRequest, message, field, Cp1ErrorTypes.InvalidValue);

    private static Task UnauthorizedAsync(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ErrorAsync(context, new Cp1Error(Cp1ErrorCodes.Unauthorized, message));
    }

    // The admin views' error shape (RouterAdminJson), so that a client handles one.
    private static Task ErrorAsync(HttpContext context, Cp1Error error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            status = RouterAdminJson.WriteError(writer, context.RequestServices.GetRequiredService<RoutingService>().InstanceId, error);
        }
        return WriteAsync(context, status, buffer);
    }

    private static Task WriteAsync(HttpContext context, int status, ArrayBufferWriter<byte> buffer)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
