using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Dispatch;
using Beamline.Host.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Beamline.Host.Dashboard;

/// <summary>
/// The live dashboard (docs/observability.md): <c>GET /ui</c> serves the login form, or the dashboard
/// once the browser holds a session; <c>POST /ui/session</c> (form field <c>key</c>, the admin key)
/// opens one (<see cref="DashboardSessions"/>) and <c>POST /ui/logout</c> ends it;
/// <c>GET /ui/assets/{file}</c> serves the embedded script and style; <c>GET /ui/api/summary</c>
/// (admin key or session) the live figures (<see cref="DashboardSummaryView"/>). The page's script
/// reads the existing admin views with the session cookie: the activity stream, provider stats,
/// circuit breakers, extension health, tenants and their usage. Every response carries a strict
/// Content-Security-Policy: the page runs only its own script and talks only to this host.
/// </summary>
public static class DashboardEndpoints
{
    /// <summary>The dashboard's path.</summary>
    public const string Path = "/ui";

    /// <summary>The login form's field that carries the admin key.</summary>
    public const string KeyField = "key";

    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    // A login form holds one short field; anything bigger is not one.
    private const int MaxFormBytes = 4096;

    /// <summary>Maps the dashboard unless <c>Beamline:Dashboard:Enabled</c> is false.</summary>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var services = endpoints.ServiceProvider;
        if (!services.GetRequiredService<IOptions<DashboardOptions>>().Value.Enabled)
        {
            return endpoints;
        }
        // Created now, so that the figures count from the start rather than from the first page load.
        services.GetRequiredService<DashboardSummary>();
        endpoints.MapGet(Path, PageAsync);
        endpoints.MapPost(Path + "/session", LoginAsync);
        endpoints.MapPost(Path + "/logout", Logout);
        endpoints.MapGet(Path + "/assets/{file}", AssetAsync);
        endpoints.MapGet(Path + "/api/summary", SummaryAsync);
        return endpoints;
    }

    private static Task PageAsync(HttpContext context)
    {
        var sessions = context.RequestServices.GetRequiredService<DashboardSessions>();
        return sessions.IsValid(context.Request)
            ? PageAsync(context, StatusCodes.Status200OK, "dashboard.html", null)
            : PageAsync(context, StatusCodes.Status200OK, "login.html", null);
    }

    private static async Task LoginAsync(HttpContext context)
    {
        var services = context.RequestServices;
        if (!context.Request.HasFormContentType || context.Request.ContentLength is not (> 0 and <= MaxFormBytes))
        {
            await PageAsync(context, StatusCodes.Status400BadRequest, "login.html", "Send the admin key from the form.").ConfigureAwait(false);
            return;
        }
        var sessions = services.GetRequiredService<DashboardSessions>();
        if (sessions.IsThrottled(context))
        {
            context.Response.Headers.RetryAfter = "60";
            await PageAsync(context, StatusCodes.Status429TooManyRequests, "login.html", "Too many failed sign-ins from this address: wait a minute.")
                .ConfigureAwait(false);
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var key = form[KeyField].ToString();
        if (!Microsoft.AspNetCore.Builder.TenancyAdminEndpoints.IsAdminKey(services, key))
        {
            sessions.Failed(context);
            var message = Microsoft.AspNetCore.Builder.TenancyAdminEndpoints.IsAdminEnabled(services)
                ? "That is not the admin key."
                : "The dashboard is closed: Beamline:Tenancy:AdminKey is not set.";
            await PageAsync(context, StatusCodes.Status401Unauthorized, "login.html", message).ConfigureAwait(false);
            return;
        }
        sessions.Open(context);
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Redirect(Path); // 302 after a POST: the browser GETs /ui
    }

    private static void Logout(HttpContext context)
    {
        context.RequestServices.GetRequiredService<DashboardSessions>().Close(context);
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Redirect(Path);
    }

    private static Task AssetAsync(HttpContext context)
    {
        var name = (string)context.Request.RouteValues["file"]!;
        var asset = context.RequestServices.GetRequiredService<DashboardAssets>().Find(name);
        Secure(context.Response);
        if (asset is null || name.EndsWith(".html", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }
        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache"; // keep it, but ask each time: a new version shows at once
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = asset.Content.Length;
        return context.Response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
    }

    private static Task SummaryAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var routing = services.GetRequiredService<RoutingService>();
        var buffer = new ArrayBufferWriter<byte>(2048);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (Microsoft.AspNetCore.Builder.TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
            {
                DashboardSummaryView.Write(writer, services.GetRequiredService<DashboardSummary>(), routing.InstanceId,
                    services.GetRequiredService<IOptions<DispatchOptions>>().Value, services.GetService<TimeProvider>() ?? TimeProvider.System);
                status = StatusCodes.Status200OK;
            }
            else
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                status = RouterAdminJson.WriteError(writer, routing.InstanceId, new Cp1Error(Cp1ErrorCodes.Unauthorized,
                    "a valid admin key or dashboard session is required"));
            }
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }

    // A page: never cached (it depends on the session), with the error, if any, in its slot.
    private static Task PageAsync(HttpContext context, int status, string name, string? error)
    {
        var asset = context.RequestServices.GetRequiredService<DashboardAssets>().Get(name);
        var content = asset.Content;
        if (error is not null)
        {
            var html = Encoding.UTF8.GetString(content).Replace("<!--error-->", HtmlEncoder.Default.Encode(error), StringComparison.Ordinal);
            content = Encoding.UTF8.GetBytes(html);
        }
        var response = context.Response;
        Secure(response);
        response.StatusCode = status;
        response.ContentType = asset.ContentType;
        response.Headers.CacheControl = "no-store";
        response.ContentLength = content.Length;
        return response.Body.WriteAsync(content, context.RequestAborted).AsTask();
    }

    private static void Secure(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
    }
}
