using System.Buffers;
using System.Text.Json;
using Beamline.Cp1;
using Cp1Error = Beamline.Cp1.Cp1Error;
using ApiKeys = Beamline.Host.Http.ApiKeys;
using JsonResponses = Beamline.Host.Http.JsonResponses;
using RequestBody = Beamline.Host.Http.RequestBody;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Beamline.Host.Routing;

/// <summary>
/// CP1 decide over HTTP, <c>POST /api/v1/routes/decide</c>; and route and execute,
/// <c>POST /v1/execute</c> (same credentials and body). The admin views are in
/// <see cref="RouterAdminEndpoints"/>.
/// </summary>
public static class DecideEndpoints
{
    // What an access log shows for a request whose client closed the connection first.
    private const int StatusCodeClientClosedRequest = 499;

    /// <summary>Maps the decide and execute endpoints.</summary>
    public static IEndpointRouteBuilder MapDecideEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost("/api/v1/routes/decide", DecideAsync);
        endpoints.MapPost("/v1/execute", ExecuteAsync);
        endpoints.MapGet("/api/v1/routes/decide/{messageId}", GetDecisionAsync);
        return endpoints;
    }

    // Order: credentials (before reading the body), body size limit (before parsing), decode,
    // tenant check, decide. The reply is the CP1 shape with the status of its code.
    private static async Task DecideAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var buffer = new ArrayBufferWriter<byte>(512);
        var status = await DecideCoreAsync(context, services, buffer).ConfigureAwait(false);
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        await WriteAsync(context, status, buffer).ConfigureAwait(false);
    }

    private static async Task<int> DecideCoreAsync(HttpContext context, IServiceProvider services, ArrayBufferWriter<byte> buffer)
    {
        using var writer = new Utf8JsonWriter(buffer);
        var limit = services.GetRequiredService<IOptions<HostOptions>>().Value.MaxDecideRequestBytes;
        var (principal, body, status) = await AdmitAsync(context, services, writer, limit).ConfigureAwait(false);
        if (principal is null)
        {
            return status;
        }
        var processor = services.GetRequiredService<DecideProcessor>();
        DecideStart start;
        using (body)
        {
            start = processor.Start(body!.Memory.Span, principal, writer, limit, "cp1_http", context.RequestAborted);
        }
        // A policy with pre or validator extensions decides after they answer.
        return start.Status != 0 ? start.Status : await processor.CompleteAsync(start, writer).ConfigureAwait(false);
    }

    // As decide, with the block body limit: the payload travels on to the provider.
    private static async Task ExecuteAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var buffer = new ArrayBufferWriter<byte>(1024);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var limit = services.GetRequiredService<IOptions<HostOptions>>().Value.MaxRequestBytes;
            var (principal, body, refused) = await AdmitAsync(context, services, writer, limit).ConfigureAwait(false);
            using (body)
            {
                try
                {
                    status = principal is null ? refused : await services.GetRequiredService<ExecuteProcessor>()
                        .ProcessAsync(body!.Memory, principal, writer, limit, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    // The client went away: nobody to answer and nothing failed (nginx's 499, for the logs).
                    context.Response.StatusCode = StatusCodeClientClosedRequest;
                    return;
                }
            }
        }
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        await WriteAsync(context, status, buffer).ConfigureAwait(false);
    }

    // A stored decision of the key's own tenant (never another's: theirs is not_found too).
    private static async Task GetDecisionAsync(HttpContext context, string messageId)
    {
        var services = context.RequestServices;
        var buffer = new ArrayBufferWriter<byte>(512);
        int status;
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (ApiKeys.From(context.Request) is not { } apiKey)
            {
                status = DecideProcessor.WriteUnauthorized(writer, "an API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>");
            }
            else if (!services.GetRequiredService<ITenantDirectory>().TryAuthenticate(apiKey, out var principal))
            {
                status = DecideProcessor.WriteUnauthorized(writer, "the API key is not valid");
            }
            else
            {
                status = services.GetRequiredService<DecisionStore>().Write(writer, messageId, principal.TenantId);
            }
        }
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        await WriteAsync(context, status, buffer).ConfigureAwait(false);
    }

    // Credentials (before reading the body), then the body within its limit. On refusal the
    // principal is null and the error is written.
    private static async Task<(TenantPrincipal? Principal, RequestBody? Body, int Status)> AdmitAsync(
        HttpContext context, IServiceProvider services, Utf8JsonWriter writer, int limit)
    {
        if (ApiKeys.From(context.Request) is not { } apiKey)
        {
            return (null, default, DecideProcessor.WriteUnauthorized(writer, "an API key is required: Authorization: Bearer <api key> or X-API-Key: <api key>"));
        }
        if (!services.GetRequiredService<ITenantDirectory>().TryAuthenticate(apiKey, out var principal))
        {
            return (null, default, DecideProcessor.WriteUnauthorized(writer, "the API key is not valid"));
        }
        var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false);
        if (body is null)
        {
            var error = new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"request too large: the limit is {limit} bytes", null, Cp1ErrorTypes.TooLarge);
            DecideCodec.WriteError(writer, error, null, null);
            return (null, default, error.HttpStatus);
        }
        return (principal, body, 0);
    }

    private static Task WriteAsync(HttpContext context, int status, ArrayBufferWriter<byte> buffer)
    {
        if (status == StatusCodes.Status429TooManyRequests && DecideProcessor.TryGetRetryAfter(buffer.WrittenSpan, out var seconds))
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        return context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
