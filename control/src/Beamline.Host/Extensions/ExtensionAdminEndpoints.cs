using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Extensions.Registry;
using Beamline.Host.Routing;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RequestBody = Beamline.Host.Http.RequestBody;

namespace Beamline.Host.Extensions;

/// <summary>
/// The extension registry over HTTP (docs/admin.md): <c>GET /admin/v1/extensions</c>,
/// <c>GET|PUT|DELETE /admin/v1/extensions/{id}</c>. Replies are the router admin's:
/// <c>{"ok":true,"instance_id",...}</c>, errors <c>{"ok":false,"instance_id","error":{code, message,
/// details{field?, type?}}}</c>. Every entry is written in its CP1 form plus <c>source</c>
/// (<c>directory</c> or <c>admin</c>), <c>file</c> (where it is read from or stored, when on disk)
/// and, for an admin entry over a directory entry, <c>overrides_file</c>. A PUT or DELETE is live
/// at once and survives a restart (the store is <c>&lt;data directory&gt;/extensions</c> unless
/// <c>Beamline:Extensions:StoreDirectory</c> says otherwise). The id <c>health</c> is reserved: it
/// is the health view's path (<see cref="RouterAdminEndpoints"/>), which is mapped as a literal and
/// so wins over <c>{id}</c>. Every request needs the tenancy admin key, checked before the body is
/// read; without it the answer is 401 <c>unauthorized</c>.
/// </summary>
public static class ExtensionAdminEndpoints
{
    private const string Prefix = "/admin/v1/extensions";

    /// <summary>Maps the registry's admin API.</summary>
    public static IEndpointRouteBuilder MapExtensionAdminEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(Prefix, ListAsync);
        endpoints.MapGet(Prefix + "/{id}", GetAsync);
        endpoints.MapPut(Prefix + "/{id}", PutAsync);
        endpoints.MapDelete(Prefix + "/{id}", DeleteAsync);
        return endpoints;
    }

    private static Task ListAsync(HttpContext context) => AnswerAsync(context, (writer, registry, instanceId) =>
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", instanceId);
        writer.WriteNumber("version", registry.Version);
        writer.WriteStartArray("extensions");
        foreach (var registration in registry.Registrations)
        {
            WriteRegistration(writer, registration);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        return StatusCodes.Status200OK;
    });

    private static Task GetAsync(HttpContext context) => AnswerAsync(context, (writer, registry, instanceId) =>
    {
        var id = RouteId(context);
        return registry.TryGetRegistration(id, out var registration)
            ? WriteExtension(writer, instanceId, registration)
            : RouterAdminJson.WriteError(writer, instanceId, NotFound(id));
    });

    private static async Task PutAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        var status = await WriteAsync(context, buffer).ConfigureAwait(false);
        await SendAsync(context, status, buffer).ConfigureAwait(false);

        static async Task<int> WriteAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
        {
            using var writer = new Utf8JsonWriter(buffer);
            var instanceId = InstanceId(context);
            if (Refuse(context, writer, instanceId) is { } refused)
            {
                return refused;
            }
            var limit = context.RequestServices.GetRequiredService<IOptions<TenancyOptions>>().Value.MaxAdminRequestBytes;
            using var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false);
            if (body is null)
            {
                return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                    $"request too large: the limit is {limit} bytes", null, Cp1ErrorTypes.TooLarge));
            }
            Beamline.Pipeline.Extensions.ExtensionEntry entry;
            try
            {
                entry = ExtensionEntryJson.Parse(body.Memory.Span, RouteId(context));
            }
            catch (ExtensionEntryException e)
            {
                return RouterAdminJson.WriteError(writer, instanceId, e.Error);
            }
            ExtensionRegistration stored;
            try
            {
                stored = await Registry(context).PutAsync(entry, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.Internal,
                    $"extension '{entry.Id}' could not be stored: {e.Message}"));
            }
            return WriteExtension(writer, instanceId, stored);
        }
    }

    private static async Task DeleteAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var status = await WriteAsync(context, buffer).ConfigureAwait(false);
        await SendAsync(context, status, buffer).ConfigureAwait(false);

        static async Task<int> WriteAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
        {
            using var writer = new Utf8JsonWriter(buffer);
            var instanceId = InstanceId(context);
            if (Refuse(context, writer, instanceId) is { } refused)
            {
                return refused;
            }
            var id = RouteId(context);
            var registry = Registry(context);
            ExtensionDeleteOutcome outcome;
            try
            {
                outcome = await registry.DeleteAsync(id, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.Internal,
                    $"extension '{id}' could not be deleted: {e.Message}"));
            }
            switch (outcome)
            {
                case ExtensionDeleteOutcome.Deleted:
                    writer.WriteStartObject();
                    writer.WriteBoolean("ok", true);
                    writer.WriteString("instance_id", instanceId);
                    writer.WriteEndObject();
                    return StatusCodes.Status200OK;
                case ExtensionDeleteOutcome.DirectoryOnly:
                    var file = registry.TryGetRegistration(id, out var registration) ? registration.FilePath : null;
                    RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                        $"extension '{id}' comes from the directory file {file ?? registry.DirectoryPath}: remove or change that file instead, or PUT an entry to override it",
                        "id"));
                    return StatusCodes.Status409Conflict;
                default:
                    return RouterAdminJson.WriteError(writer, instanceId, NotFound(id));
            }
        }
    }

    private static int WriteExtension(Utf8JsonWriter writer, string instanceId, ExtensionRegistration registration)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", instanceId);
        writer.WritePropertyName("extension");
        WriteRegistration(writer, registration);
        writer.WriteEndObject();
        return StatusCodes.Status200OK;
    }

    private static void WriteRegistration(Utf8JsonWriter writer, ExtensionRegistration registration)
    {
        writer.WriteStartObject();
        ExtensionEntryJson.WriteMembers(writer, registration.Entry);
        writer.WriteString("source", registration.SourceName);
        if (registration.FilePath is not null)
        {
            writer.WriteString("file", registration.FilePath);
        }
        if (registration.OverridesFile is not null)
        {
            writer.WriteString("overrides_file", registration.OverridesFile);
        }
        writer.WriteEndObject();
    }

    private static Cp1Error NotFound(string id) =>
        new(Cp1ErrorCodes.ExtensionNotFound, $"extension '{id}' not found", "id");

    private static Task AnswerAsync(HttpContext context, Func<Utf8JsonWriter, ExtensionRegistry, string, int> answer)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var instanceId = InstanceId(context);
            status = Refuse(context, writer, instanceId) ?? answer(writer, Registry(context), instanceId);
        }
        return SendAsync(context, status, buffer);
    }

    // The admin key first: null when the caller is the operator, else the 401 written.
    private static int? Refuse(HttpContext context, Utf8JsonWriter writer, string instanceId)
    {
        if (TenancyAdminEndpoints.IsAdminAuthorized(context.Request))
        {
            return null;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return RouterAdminJson.WriteError(writer, instanceId, new Cp1Error(Cp1ErrorCodes.Unauthorized,
            "a valid admin key is required: Authorization: Bearer <admin key>"));
    }

    private static string RouteId(HttpContext context) => context.Request.RouteValues["id"] as string ?? "";

    private static ExtensionRegistry Registry(HttpContext context) => context.RequestServices.GetRequiredService<ExtensionRegistry>();

    private static string InstanceId(HttpContext context) => context.RequestServices.GetRequiredService<RoutingService>().InstanceId;

    private static Task SendAsync(HttpContext context, int status, ArrayBufferWriter<byte> buffer)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
