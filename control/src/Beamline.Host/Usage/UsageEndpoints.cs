using System.Text;
using System.Text.Json;
using Beamline.Accounting.Ledger;
using Beamline.Accounting.Reports;
using Beamline.Cp1;
using Beamline.Host.Http;
using Beamline.Host.Routing;
using Beamline.Routing.Catalog;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Usage;

/// <summary>
/// Spend and usage (docs/usage.md): <c>GET /admin/v1/tenants/{tenant_id}/usage?period=YYYY-MM[&amp;format=csv]</c>
/// with the admin key, and <c>GET /v1/usage?period=YYYY-MM[&amp;format=csv]</c> with a tenant's API key,
/// which reads that key's tenant and no other. The period defaults to the current UTC month. JSON:
/// <c>{"ok":true,"usage":{…}}</c> (<see cref="UsageJson"/>); CSV: one row per (day, team, key,
/// provider, model). Errors in the CP1 shape: 401 <c>unauthorized</c>, 403 <c>denied</c> (a key naming
/// another tenant), 404 <c>tenant_not_found</c>, 400 <c>invalid_request</c> (a malformed period or format).
/// </summary>
public static class UsageEndpoints
{
    /// <summary>The admin view's path.</summary>
    public const string AdminPath = "/admin/v1/tenants/{tenantId}/usage";

    /// <summary>A tenant's own view.</summary>
    public const string TenantPath = "/v1/usage";

    /// <summary>Maps both views.</summary>
    public static IEndpointRouteBuilder MapUsageEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(AdminPath, AdminAsync);
        endpoints.MapGet(TenantPath, TenantAsync);
        return endpoints;
    }

    private static Task AdminAsync(HttpContext context)
    {
        if (!TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return UnauthorizedAsync(context, "a valid admin key is required: Authorization: Bearer <admin key>");
        }
        var tenantId = context.Request.RouteValues["tenantId"] as string ?? "";
        var directory = context.RequestServices.GetRequiredService<ITenantDirectory>();
        if (!directory.TryGetTenant(tenantId, out var tenant))
        {
            return ErrorAsync(context, StatusCodes.Status404NotFound, TenancyErrorCodes.TenantNotFound, $"tenant '{tenantId}' does not exist", "tenant_id");
        }
        return AnswerAsync(context, tenant);
    }

    private static Task TenantAsync(HttpContext context)
    {
        if (ApiKeys.From(context.Request) is not { } apiKey)
        {
            return UnauthorizedAsync(context, "an API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>");
        }
        var directory = context.RequestServices.GetRequiredService<ITenantDirectory>();
        if (!directory.TryAuthenticate(apiKey, out var principal) || !directory.TryGetTenant(principal.TenantId, out var tenant))
        {
            return UnauthorizedAsync(context, "the API key is not valid");
        }
        if (context.Request.Query["tenant_id"].ToString() is { Length: > 0 } asked && asked != tenant.Id)
        {
            return ErrorAsync(context, StatusCodes.Status403Forbidden, Cp1ErrorCodes.Denied, "an API key reads its own tenant's usage only", "tenant_id");
        }
        return AnswerAsync(context, tenant);
    }

    private static Task AnswerAsync(HttpContext context, TenantSnapshot tenant)
    {
        var services = context.RequestServices;
        var now = (services.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
        var periodText = context.Request.Query["period"].ToString();
        UsagePeriod period;
        if (periodText.Length == 0)
        {
            period = UsagePeriod.Of(now);
        }
        else if (UsagePeriod.TryParse(periodText, out var parsed))
        {
            period = parsed.Value;
        }
        else
        {
            return ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, "period must be a month written YYYY-MM (UTC), e.g. 2026-11", "period");
        }
        var format = context.Request.Query["format"].ToString();
        var ledger = services.GetRequiredService<UsageLedger>();
        switch (format)
        {
            case "" or "json":
                var report = ledger.Query(tenant.Id, period, tenant.Limits.MonthlyBudgetUsd, now);
                report = report with { Suggestions = Suggest(services, tenant, report) };
                return JsonResponses.WriteAsync(context, StatusCodes.Status200OK, output =>
                {
                    using var writer = new Utf8JsonWriter(output);
                    writer.WriteStartObject();
                    writer.WriteBoolean("ok", true);
                    writer.WritePropertyName("usage");
                    UsageJson.Write(writer, report);
                    writer.WriteEndObject();
                });
            case "csv":
                using (var csv = new StringWriter(System.Globalization.CultureInfo.InvariantCulture))
                {
                    ledger.WriteCsv(csv, tenant.Id, period);
                    var bytes = Encoding.UTF8.GetBytes(csv.ToString());
                    context.Response.StatusCode = StatusCodes.Status200OK;
                    context.Response.ContentType = "text/csv; charset=utf-8";
                    context.Response.Headers.ContentDisposition = $"attachment; filename=\"usage-{period}.csv\"";
                    context.Response.ContentLength = bytes.Length;
                    return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
                }
            default:
                return ErrorAsync(context, StatusCodes.Status400BadRequest, Cp1ErrorCodes.InvalidRequest, "format must be json or csv", "format");
        }
    }

    // The catalog's configured providers, with this instance's statistics, that the tenant may use.
    private static System.Collections.Immutable.ImmutableArray<ProviderSuggestion> Suggest(IServiceProvider services, TenantSnapshot tenant, UsageReport report)
    {
        if (report.ByProviderModel.IsEmpty || services.GetService<RoutingService>() is not { } routing)
        {
            return [];
        }
        var profiles = routing.Current.Catalog.Entries
            .Where(e => e.Descriptor.Kind != ProviderKind.Unknown)
            .Select(ProviderProfile.Of);
        return ProviderSuggestions.Suggest(report.ByProviderModel, profiles, id => tenant.Limits.AllowsProvider(id));
    }

    private static Task UnauthorizedAsync(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ErrorAsync(context, StatusCodes.Status401Unauthorized, Cp1ErrorCodes.Unauthorized, message, null);
    }

    private static Task ErrorAsync(HttpContext context, int status, string code, string message, string? field)
        => JsonResponses.WriteAsync(context, status, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            Http.Cp1Error.Write(writer, code, message, field is null ? null : details => details.WriteString("field", field));
        });
}
