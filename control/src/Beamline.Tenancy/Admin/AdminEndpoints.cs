using System.Text.Json;
using Beamline.Tenancy.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Tenancy.Admin;

/// <summary>Wraps every admin handler: authorization first, then <see cref="TenancyException"/> → CP1 error.</summary>
internal sealed class AdminEndpoints(AdminAuthorization authorization, int maxRequestBytes)
{
    public RequestDelegate Handle(Func<AdminRequest, Task> handler) => async context =>
    {
        if (!authorization.IsAuthorized(context.Request))
        {
            var message = authorization.IsEnabled
                ? "a valid admin key is required: Authorization: Bearer <admin key>"
                : "the admin API is disabled: Beamline:Tenancy:AdminKey is not set";
            await AdminJson.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, TenancyErrorCodes.Unauthorized, message).ConfigureAwait(false);
            return;
        }
        var directory = context.RequestServices.GetRequiredService<TenantDirectory>();
        try
        {
            await handler(new AdminRequest(context, directory, maxRequestBytes)).ConfigureAwait(false);
        }
        catch (TenancyException error)
        {
            var status = error.Kind switch
            {
                TenancyErrorKind.NotFound => StatusCodes.Status404NotFound,
                TenancyErrorKind.Conflict => StatusCodes.Status409Conflict,
                _ => StatusCodes.Status400BadRequest,
            };
            await AdminJson.WriteErrorAsync(context, status, error.Code, error.Message, error.Field).ConfigureAwait(false);
        }
    };
}

/// <summary>One admin request: route values, body and the answer.</summary>
internal sealed class AdminRequest(HttpContext context, TenantDirectory directory, int maxRequestBytes)
{
    public TenantDirectory Directory => directory;

    public CancellationToken Aborted => context.RequestAborted;

    public string Route(string name) => context.Request.RouteValues[name] as string ?? "";

    public TenantSnapshot Tenant()
    {
        var tenantId = Route("tenantId");
        return directory.TryGetTenant(tenantId, out var tenant)
            ? tenant
            : throw TenancyException.NotFound(TenancyErrorCodes.TenantNotFound, "tenant", tenantId);
    }

    public TeamSnapshot Team()
    {
        var teamId = Route("teamId");
        return Tenant().Teams.TryGetValue(teamId, out var team)
            ? team
            : throw TenancyException.NotFound(TenancyErrorCodes.TeamNotFound, "team", teamId);
    }

    /// <summary>A key of the tenant in the path: a key of another tenant is "not found", never shown.</summary>
    public ApiKeyInfo Key()
    {
        var tenant = Tenant();
        var keyId = Route("keyId");
        return directory.TryGetKey(tenant.Id, keyId, out var key)
            ? key
            : throw TenancyException.NotFound(TenancyErrorCodes.KeyNotFound, "key", keyId);
    }

    public Task<string> ReadTextAsync() => AdminJson.ReadBodyTextAsync(context, maxRequestBytes);

    /// <summary>True when the body is sent as <c>text/plain</c> (a policy-language source).</summary>
    public bool IsPlainText => context.Request.ContentType?.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The body as a JSON object with only the <paramref name="members"/> allowed.</summary>
    public async Task<JsonDocument> ReadObjectAsync(params string[] members)
    {
        var document = await AdminJson.ReadBodyAsync(context, maxRequestBytes).ConfigureAwait(false);
        try
        {
            TenancyJson.RequireObject(document.RootElement, "body");
            TenancyJson.RejectUnknown(document.RootElement, "", members);
            return document;
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    public Task OkAsync(Action<Utf8JsonWriter>? writeMembers, int status = StatusCodes.Status200OK)
        => AdminJson.WriteOkAsync(context, status, writeMembers);
}
