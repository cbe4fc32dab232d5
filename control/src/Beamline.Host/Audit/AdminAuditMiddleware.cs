using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Beamline.Audit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Audit;

/// <summary>
/// Records every mutating admin request (POST, PUT, PATCH or DELETE under <c>/admin/</c>) in the
/// audit chain once it has run, whatever its outcome (a refused one too: its actor is
/// <c>unauthenticated</c>, with no tenant and no body hash): kind <c>admin</c>, action <c>METHOD path</c>, the HTTP status, the
/// actor (<c>admin</c>: there is one admin key), the tenant when the path names one
/// (<c>/admin/v1/tenants/{tenant}/…</c>) and the body's SHA-256, never the body.
/// </summary>
public static class AdminAuditMiddleware
{
    /// <summary>The actor of a request made with the admin key.</summary>
    public const string AdminActor = "admin";

    /// <summary>The actor of a request without a valid admin key.</summary>
    public const string UnauthenticatedActor = "unauthenticated";

    // nginx's "client closed request", for a request whose client went away.
    private const int StatusClientClosedRequest = 499;

    /// <summary>Adds the middleware; place it before the endpoints run.</summary>
    public static IApplicationBuilder UseAdminAudit(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(static (context, next) => IsAdminChange(context.Request) ? AuditAsync(context, next) : next(context));
    }

    /// <summary>The tenant a path under <c>/admin/v1/tenants/</c> names, or null.</summary>
    public static string? TenantOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        const string Prefix = "/admin/v1/tenants/";
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        var rest = path.AsSpan(Prefix.Length);
        var end = rest.IndexOf('/');
        var tenant = end < 0 ? rest : rest[..end];
        return tenant.IsEmpty ? null : tenant.ToString();
    }

    private static bool IsAdminChange(HttpRequest request)
        => request.Path.StartsWithSegments("/admin", StringComparison.Ordinal)
            && (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method)
                || HttpMethods.IsPatch(request.Method) || HttpMethods.IsDelete(request.Method));

    private static async Task AuditAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        request.EnableBuffering(); // the body is hashed after the endpoint has read it
        var failed = true;
        try
        {
            await next(context).ConfigureAwait(false);
            failed = false;
        }
        finally
        {
            var status = !failed ? context.Response.StatusCode
                : context.RequestAborted.IsCancellationRequested ? StatusClientClosedRequest : StatusCodes.Status500InternalServerError;
            var path = request.Path.Value ?? "/";
            var authorized = TenancyAdminEndpoints.IsAdminAuthorized(request);
            var record = new AuditRecord
            {
                Kind = AuditKinds.Admin,
                // A refused attempt names no tenant: anyone could otherwise write into a tenant's own audit view.
                TenantId = authorized ? TenantOf(path) : null,
                RequestId = context.TraceIdentifier,
                Status = status.ToString(CultureInfo.InvariantCulture),
                // Nor is its body read: hashing what anyone sends (up to the request limit) would be free work for them.
                RequestSha256 = authorized ? await BodySha256Async(request).ConfigureAwait(false) : null,
                Action = request.Method + " " + path,
                Actor = authorized ? AdminActor : UnauthenticatedActor,
            };
            // Not the request's token: a client that leaves does not erase its change from the log.
            await context.RequestServices.GetRequiredService<IAuditLog>().AppendAsync(record, CancellationToken.None).ConfigureAwait(false);
        }
    }

    // The whole body's SHA-256 (what the endpoint did not read is read here), or null when empty
    // or unreadable (the client went away).
    private static async Task<string?> BodySha256Async(HttpRequest request)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            request.Body.Position = 0;
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
            }
            return total == 0 ? null : Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
