using System.Text.Json;
using Beamline.Gateway;
using Beamline.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Host.Gateway;

/// <summary>
/// The Anthropic-compatible face: <c>POST /v1/messages</c> (whole and streamed) and
/// <c>POST /v1/messages/count_tokens</c>, so that an Anthropic SDK pointed at Beamline works
/// unchanged, whichever API the provider the request is routed to speaks. The key comes in
/// <c>x-api-key</c> or <c>Authorization: Bearer</c>; <c>anthropic-version</c> is accepted, not
/// required. Like the OpenAI face, it only translates: the pipeline does the rest.
/// </summary>
internal static class AnthropicEndpoints
{
    /// <summary>Maps the Anthropic routes.</summary>
    public static IEndpointRouteBuilder MapAnthropicEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/messages", MessagesAsync);
        endpoints.MapPost("/v1/messages/count_tokens", CountTokensAsync);
        return endpoints;
    }

    private static async Task MessagesAsync(HttpContext context)
    {
        const WireFormat Format = WireFormat.AnthropicMessages;
        if (await GatewayHttp.AuthenticateAsync(context, Format).ConfigureAwait(false) is not { } principal)
        {
            return;
        }
        using var body = await GatewayHttp.ReadBodyAsync(context, Format).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }
        var bytes = body.Memory.ToArray();
        if (Read(bytes, countTokens: false, out var model, out var stream) is { } invalid)
        {
            await GatewayHttp.WriteErrorAsync(context, invalid, Format).ConfigureAwait(false);
            return;
        }
        var pipeline = context.RequestServices.GetRequiredService<RequestPipeline>();
        var request = GatewayHttp.Request(context, principal, bytes, Format, model, stream, "anthropic");
        if (stream)
        {
            await GatewayStreaming.StreamAsync(context, pipeline, request, Format, model).ConfigureAwait(false);
        }
        else
        {
            await GatewayStreaming.AnswerAsync(context, pipeline, request, Format, model).ConfigureAwait(false);
        }
    }

    // An estimate, said so in x-beamline-estimated: the providers' tokenizers are theirs; four
    // characters of the system prompt, the messages and the tools make a token.
    private static async Task CountTokensAsync(HttpContext context)
    {
        const WireFormat Format = WireFormat.AnthropicMessages;
        if (await GatewayHttp.AuthenticateAsync(context, Format).ConfigureAwait(false) is null)
        {
            return;
        }
        using var body = await GatewayHttp.ReadBodyAsync(context, Format).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }
        var bytes = body.Memory.ToArray();
        if (Read(bytes, countTokens: true, out _, out _) is { } invalid)
        {
            await GatewayHttp.WriteErrorAsync(context, invalid, Format).ConfigureAwait(false);
            return;
        }
        long characters = 0;
        using (var document = JsonDocument.Parse(bytes))
        {
            foreach (var name in (ReadOnlySpan<string>)["system", "messages", "tools"])
            {
                if (document.RootElement.TryGetProperty(name, out var value))
                {
                    characters += Characters(value);
                }
            }
        }
        context.Response.Headers["x-beamline-estimated"] = "true";
        await Http.JsonResponses.WriteAsync(context, StatusCodes.Status200OK, buffer =>
        {
            using var writer = new Utf8JsonWriter(buffer);
            writer.WriteStartObject();
            writer.WriteNumber("input_tokens", (characters + 3) / 4);
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    private static long Characters(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return value.GetString()!.Length;
            case JsonValueKind.Array:
                long sum = 0;
                foreach (var item in value.EnumerateArray())
                {
                    sum += Characters(item);
                }
                return sum;
            case JsonValueKind.Object:
                long total = 0;
                foreach (var member in value.EnumerateObject())
                {
                    // Images and documents are not text (their base64 would count as thousands of tokens), nor are the structure's names.
                    if (!member.NameEquals("source") && !member.NameEquals("type") && !member.NameEquals("role") && !member.NameEquals("cache_control"))
                    {
                        total += Characters(member.Value);
                    }
                }
                return total;
            default:
                return 0;
        }
    }

    // What the face checks itself, as the Messages API words it: a JSON object, a model,
    // max_tokens (not for count_tokens), a non-empty messages array, a boolean stream.
    private static GatewayError? Read(byte[] body, bool countTokens, out string? model, out bool stream)
    {
        model = null;
        stream = false;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Bad("the request body must be a JSON object");
            }
            if (!root.TryGetProperty("model", out var given) || given.ValueKind != JsonValueKind.String || given.GetString()!.Length == 0)
            {
                return Bad("model: Field required");
            }
            model = given.GetString();
            if (!countTokens
                && (!root.TryGetProperty("max_tokens", out var maxTokens) || maxTokens.ValueKind != JsonValueKind.Number
                    || !maxTokens.TryGetInt32(out var max) || max < 1))
            {
                return Bad("max_tokens: Field required (an integer of at least 1)");
            }
            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            {
                return Bad("messages: Field required (a non-empty array)");
            }
            if (root.TryGetProperty("stream", out var streamed))
            {
                if (streamed.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                {
                    return Bad("stream: Input should be a valid boolean");
                }
                stream = streamed.ValueKind == JsonValueKind.True;
            }
            return null;
        }
        catch (JsonException e)
        {
            return Bad($"the request body is not valid JSON: {e.Message}");
        }
    }

    private static GatewayError Bad(string message) => new(400, message, "invalid_request");
}
