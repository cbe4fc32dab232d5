using System.Buffers;
using System.Text.Json;
using Beamline.Pipeline;

namespace Beamline.Gateway.Translation;

/// <summary>
/// A gateway request's body as the chosen provider's API takes it: the client's own body with
/// the upstream model when both speak the same API (every field Beamline does not interpret
/// passes through unchanged), else translated between the OpenAI and Anthropic shapes.
/// </summary>
public static class RequestTranslation
{
    /// <summary>Whether a request in <paramref name="from"/> can be sent to a provider speaking <paramref name="to"/>.</summary>
    public static bool CanTranslate(WireFormat from, WireFormat to) => from == to || CrossFormat.CanTranslateRequest(from, to);

    /// <summary>
    /// The upstream body. <paramref name="upstreamModel"/> replaces the client's <c>model</c> (null
    /// keeps it). Throws <see cref="GatewayFormatException"/> for a body the translation cannot read.
    /// </summary>
    public static byte[] ToUpstream(ReadOnlySpan<byte> body, WireFormat from, WireFormat to, string? upstreamModel)
    {
        if (from == to)
        {
            return WithModel(body, upstreamModel);
        }
        return CrossFormat.TranslateRequest(body, from, to, upstreamModel);
    }

    /// <summary>The body with its top-level <c>model</c> replaced (every other member copied as it is).</summary>
    public static byte[] WithModel(ReadOnlySpan<byte> body, string? model)
    {
        if (model is null)
        {
            return body.ToArray();
        }
        var reader = new Utf8JsonReader(body);
        JsonDocument document;
        try
        {
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new GatewayFormatException($"the request body is not JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new GatewayFormatException("the request body must be a JSON object");
            }
            var buffer = new ArrayBufferWriter<byte>(body.Length + 64);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("model", model);
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (!property.NameEquals("model"))
                    {
                        property.WriteTo(writer);
                    }
                }
                writer.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }
}

/// <summary>A body the gateway cannot read or translate: the client's <c>invalid_request</c>.</summary>
public sealed class GatewayFormatException(string message) : Exception(message);
