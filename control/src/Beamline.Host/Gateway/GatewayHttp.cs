using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Beamline.Gateway;
using Beamline.Host.Http;
using Beamline.Host.Routing;
using Beamline.Pipeline;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Beamline.Host.Gateway;

/// <summary>
/// What the OpenAI and Anthropic faces share: the API key (<c>Authorization: Bearer</c> or
/// <c>x-api-key</c>), the body within its limit, the pipeline request of a gateway call, errors in
/// the client's format, and the answer — whole, or as server-sent events flushed chunk by chunk.
/// </summary>
internal static class GatewayHttp
{
    /// <summary>The authenticated caller, or null with the 401 written in <paramref name="format"/>.</summary>
    public static async Task<TenantPrincipal?> AuthenticateAsync(HttpContext context, WireFormat format)
    {
        if (ApiKeys.From(context.Request) is not { } apiKey)
        {
            await WriteErrorAsync(context, new GatewayError(401, "an API key is required: Authorization: Bearer <api key> or x-api-key: <api key>", "invalid_api_key"), format).ConfigureAwait(false);
            return null;
        }
        if (!context.RequestServices.GetRequiredService<ITenantDirectory>().TryAuthenticate(apiKey, out var principal))
        {
            await WriteErrorAsync(context, new GatewayError(401, "the API key is not valid", "invalid_api_key"), format).ConfigureAwait(false);
            return null;
        }
        return principal;
    }

    /// <summary>The request body, or null with the 413 written.</summary>
    public static async Task<RequestBody?> ReadBodyAsync(HttpContext context, WireFormat format)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<HostOptions>>().Value.MaxRequestBytes;
        var body = await RequestBody.ReadAsync(context, limit).ConfigureAwait(false);
        if (body is null)
        {
            await WriteErrorAsync(context, new GatewayError(413, $"request too large: the limit is {limit} bytes", "request_too_large"), format).ConfigureAwait(false);
        }
        return body;
    }

    /// <summary>
    /// The pipeline request of a gateway call: <paramref name="model"/> names the route (a policy,
    /// else a provider or a provider's model, else the tenant's default policy).
    /// </summary>
    public static PipelineRequest Request(HttpContext context, TenantPrincipal principal, byte[] body, WireFormat format, string? model, bool stream,
        string face)
    {
        var routing = context.RequestServices.GetRequiredService<RoutingService>();
        var route = ModelRoutes.Resolve(routing, principal.TenantId, model);
        var request = new PipelineRequest
        {
            Caller = KeyCaller.From(principal),
            RequestId = context.Request.Headers["x-request-id"] is { Count: > 0 } id && id[0] is { Length: > 0 and <= 128 } given
                ? given
                : Guid.CreateVersion7().ToString("N"),
            TraceId = context.Request.Headers.TryGetValue("traceparent", out var traceparent) ? traceparent.ToString() : null,
            PolicyId = route.PolicyId,
            PinnedProvider = route.PinnedProvider,
            MessageType = format == WireFormat.OpenAIEmbeddings ? "embedding" : "chat",
            Payload = body,
            PayloadKind = PayloadKind.Json,
            Format = format,
            Stream = stream,
            Face = face,
        };
        if (model is not null)
        {
            request.Metadata[Beamline.Providers.ProviderBlocks.GatewayModelKey] = model;
        }
        return request;
    }

    /// <summary>Writes <paramref name="error"/> in the client's format, with <c>Retry-After</c> when known.</summary>
    public static Task WriteErrorAsync(HttpContext context, GatewayError error, WireFormat format)
    {
        if (error.Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        if (error.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        return JsonResponses.WriteAsync(context, error.Status, buffer => Write(buffer, error, format));
    }

    /// <summary>Writes a whole JSON answer.</summary>
    public static async Task WriteJsonAsync(HttpContext context, ReadOnlyMemory<byte> json)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        await context.Response.Body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Starts a server-sent event stream (nothing buffered on the way: each write is flushed).</summary>
    public static async Task StartEventStreamAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Writes one piece of an event stream and flushes it.</summary>
    public static async Task WriteEventsAsync(HttpContext context, ReadOnlyMemory<byte> events)
    {
        await context.Response.Body.WriteAsync(events, context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static void Write(IBufferWriter<byte> buffer, in GatewayError error, WireFormat format)
    {
        using var writer = new Utf8JsonWriter(buffer);
        if (format == WireFormat.AnthropicMessages)
        {
            GatewayErrors.WriteAnthropic(writer, error);
        }
        else
        {
            GatewayErrors.WriteOpenAI(writer, error);
        }
    }
}
