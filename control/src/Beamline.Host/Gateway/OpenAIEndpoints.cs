using System.Text.Json;
using Beamline.Gateway;
using Beamline.Host.Routing;
using Beamline.Pipeline;
using Beamline.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Gateway;

/// <summary>
/// The OpenAI-compatible face: <c>POST /v1/chat/completions</c> and <c>POST /v1/responses</c>
/// (whole and streamed), <c>POST /v1/embeddings</c> and <c>GET /v1/models</c>, so that an OpenAI SDK pointed at Beamline
/// works unchanged. It only translates: the pipeline admits, runs extensions, routes, calls the
/// provider with its fallbacks, and accounts.
/// </summary>
internal static class OpenAIEndpoints
{
    /// <summary>Maps the OpenAI routes.</summary>
    public static IEndpointRouteBuilder MapOpenAIEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/chat/completions", context => CallAsync(context, WireFormat.OpenAIChat));
        endpoints.MapPost("/v1/responses", context => CallAsync(context, WireFormat.OpenAIResponses));
        endpoints.MapPost("/v1/embeddings", context => CallAsync(context, WireFormat.OpenAIEmbeddings));
        endpoints.MapGet("/v1/models", ModelsAsync);
        return endpoints;
    }

    private static async Task CallAsync(HttpContext context, WireFormat format)
    {
        if (await GatewayHttp.AuthenticateAsync(context, format).ConfigureAwait(false) is not { } principal)
        {
            return;
        }
        using var body = await GatewayHttp.ReadBodyAsync(context, format).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }
        var bytes = body.Memory.ToArray();
        if (Read(bytes, format, out var model, out var stream) is { } invalid)
        {
            await GatewayHttp.WriteErrorAsync(context, invalid.Error, format).ConfigureAwait(false);
            return;
        }
        var pipeline = context.RequestServices.GetRequiredService<RequestPipeline>();
        var request = GatewayHttp.Request(context, principal, bytes, format, model, stream, "openai");
        if (stream && format is WireFormat.OpenAIChat or WireFormat.OpenAIResponses)
        {
            await GatewayStreaming.StreamAsync(context, pipeline, request, format, model).ConfigureAwait(false);
        }
        else
        {
            await GatewayStreaming.AnswerAsync(context, pipeline, request, format, model).ConfigureAwait(false);
        }
    }

    private readonly record struct Invalid(GatewayError Error);

    // What the face checks itself (everything else is the provider's to judge): a JSON object,
    // a string model, and the messages or input the endpoint needs. One parse also yields the
    // model (the route) and the stream flag.
    private static Invalid? Read(byte[] body, WireFormat format, out string? modelName, out bool streamed)
    {
        modelName = null;
        streamed = false;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Bad("the request body must be a JSON object");
            }
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || model.GetString()!.Length == 0)
            {
                return Bad("you must provide a model parameter");
            }
            if (format == WireFormat.OpenAIChat
                && (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0))
            {
                return Bad("'messages' must be a non-empty array");
            }
            if (format is WireFormat.OpenAIEmbeddings or WireFormat.OpenAIResponses
                && (!root.TryGetProperty("input", out var input) || input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array)))
            {
                return Bad("'input' must be a string or an array");
            }
            if (root.TryGetProperty("stream", out var stream) && stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            {
                return Bad("'stream' must be a boolean");
            }
            modelName = model.GetString();
            streamed = stream.ValueKind == JsonValueKind.True;
            return null;
        }
        catch (JsonException e)
        {
            return Bad($"the request body is not valid JSON: {e.Message}");
        }
    }

    private static Invalid Bad(string message) => new(new GatewayError(400, message, "invalid_request"));

    // The models a key can name: the tenant's policies, then the providers' models it may be routed to.
    private static async Task ModelsAsync(HttpContext context)
    {
        if (await GatewayHttp.AuthenticateAsync(context, WireFormat.OpenAIChat).ConfigureAwait(false) is not { } principal)
        {
            return;
        }
        var routing = context.RequestServices.GetRequiredService<RoutingService>();
        var state = routing.Current;
        await Http.JsonResponses.WriteAsync(context, StatusCodes.Status200OK, buffer =>
        {
            using var writer = new Utf8JsonWriter(buffer);
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            if (state.Tenants.TryGetValue(principal.TenantId, out var tenant))
            {
                foreach (var policy in tenant.Policies.Policies.OrderBy(p => p.Id, StringComparer.Ordinal))
                {
                    if ((principal.Limits.AllowedPolicies is not { } policies || policies.Contains(policy.Id)) && seen.Add(policy.Id))
                    {
                        WriteModel(writer, policy.Id, "beamline");
                    }
                }
            }
            foreach (var entry in state.Catalog.Entries.OrderBy(e => e.Id, StringComparer.Ordinal))
            {
                var provider = entry.Descriptor;
                if (provider.Kind == Beamline.Routing.Catalog.ProviderKind.Unknown
                    || (principal.Limits.AllowedProviders is { } providers && !providers.Contains(provider.Id)))
                {
                    continue;
                }
                var models = provider.Models.IsDefaultOrEmpty ? (provider.Model is { } one ? [one] : []) : provider.Models.ToArray();
                foreach (var model in models)
                {
                    if (seen.Add(model))
                    {
                        WriteModel(writer, model, provider.Id);
                    }
                }
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static void WriteModel(Utf8JsonWriter writer, string id, string ownedBy)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("object", "model");
        writer.WriteNumber("created", 0);
        writer.WriteString("owned_by", ownedBy);
        writer.WriteEndObject();
    }
}
