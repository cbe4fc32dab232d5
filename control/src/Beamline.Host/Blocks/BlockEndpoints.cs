using System.Text.Json;
using Beamline.Dispatch;
using Beamline.Host.Http;
using Beamline.Tenancy;
using Beamline.Tenancy.Quotas;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Blocks;

/// <summary><c>POST /v1/blocks</c>: run one block where the control plane is configured to.</summary>
public static class BlockEndpoints
{
    /// <summary>Maps the block API.</summary>
    public static IEndpointRouteBuilder MapBlockEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost("/v1/blocks", RunBlockAsync);
        return endpoints;
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string code, string message, string? field = null) =>
        JsonResponses.WriteAsync(context, status, output =>
        {
            using var writer = new Utf8JsonWriter(output);
            Cp1Error.Write(writer, code, message, field is null ? null : w => w.WriteString("field", field));
        });

    private static async Task RunBlockAsync(HttpContext context)
    {
        var dispatcher = context.RequestServices.GetRequiredService<IBlockDispatcher>();
        // With tenants configured, a block runs only for the tenant of a valid API key: its files,
        // databases and allow-lists are that tenant's. (With none, the embedded demo stays open.)
        var directory = context.RequestServices.GetService<ITenantDirectory>();
        TenantPrincipal? principal = null;
        if (directory is not null && directory.Snapshot.Tenants.Count > 0)
        {
            if (ApiKeys.From(context.Request) is not { } apiKey || !directory.TryAuthenticate(apiKey, out principal))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "unauthorized",
                    "a valid API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>").ConfigureAwait(false);
                return;
            }
        }
        var limit = context.RequestServices.GetRequiredService<IOptions<HostOptions>>().Value.MaxRequestBytes;
        using var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false);
        if (body is null)
        {
            await JsonResponses.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, output =>
            {
                using var writer = new Utf8JsonWriter(output);
                Cp1Error.Write(writer, Cp1Error.InvalidRequest, $"the body exceeds the limit of {limit} bytes",
                    w => w.WriteNumber("limit_bytes", limit));
            }).ConfigureAwait(false);
            return;
        }

        Worker.V2.ExecRequest request;
        try
        {
            request = BlockJson.ParseRequest(body.Memory.Span);
        }
        catch (BlockRequestException e)
        {
            await JsonResponses.WriteAsync(context, StatusCodes.Status400BadRequest,
                output => BlockJson.WriteRequestError(output, e)).ConfigureAwait(false);
            return;
        }

        if (Beamline.Providers.ProviderBlocks.RefuseClientCredential(request.Type, request.Payload.Span, out var malformed) is { } credentialRefusal)
        {
            await (malformed
                ? WriteErrorAsync(context, StatusCodes.Status400BadRequest, Cp1Error.InvalidRequest, credentialRefusal, "payload")
                : WriteErrorAsync(context, StatusCodes.Status403Forbidden, "denied", credentialRefusal, "payload")).ConfigureAwait(false);
            return;
        }

        if (principal is not null && !string.Equals(principal.TenantId, request.TenantId, StringComparison.Ordinal))
        {
            await WriteErrorAsync(context, StatusCodes.Status403Forbidden, "denied",
                "the API key does not belong to tenant_id's tenant", "tenant_id").ConfigureAwait(false);
            return;
        }

        // The key's, its team's and its tenant's request quotas count blocks as they count decides.
        using var lease = principal is null ? default : context.RequestServices.GetRequiredService<QuotaGate>().Enter(principal);
        if (!lease.IsAdmitted)
        {
            var refusal = lease.Refusal;
            context.Response.Headers.RetryAfter = refusal.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await WriteErrorAsync(context, StatusCodes.Status429TooManyRequests, "quota_exceeded", refusal.Message).ConfigureAwait(false);
            return;
        }

        var result = await dispatcher.DispatchAsync(request, context.RequestAborted).ConfigureAwait(false);
        await JsonResponses.WriteAsync(context, BlockJson.HttpStatusFor(result),
            output => BlockJson.WriteResult(output, result, dispatcher.Mode)).ConfigureAwait(false);
    }
}
