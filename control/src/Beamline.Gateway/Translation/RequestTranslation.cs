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
    /// keeps it). A streamed Chat Completions body always asks for the usage
    /// (<c>stream_options.include_usage</c>): a stream is charged by it, and the usage-only chunk is
    /// removed before a client that did not ask for it sees it. Throws
    /// <see cref="GatewayFormatException"/> for a body the translation cannot read.
    /// </summary>
    public static byte[] ToUpstream(ReadOnlySpan<byte> body, WireFormat from, WireFormat to, string? upstreamModel)
    {
        if (from == to)
        {
            return to == WireFormat.OpenAIChat ? WithModel(body, upstreamModel, streamUsage: true) : WithModel(body, upstreamModel);
        }
        return CrossFormat.TranslateRequest(body, from, to, upstreamModel);
    }

    /// <summary>The body with its top-level <c>model</c> replaced (every other member copied as it is).</summary>
    public static byte[] WithModel(ReadOnlySpan<byte> body, string? model) => WithModel(body, model, streamUsage: false);

    // With streamUsage, a body with "stream": true gets stream_options.include_usage: true (its
    // other stream_options kept). A body read for that alone that is not a JSON object is left as
    // it is, for the upstream to refuse.
    private static byte[] WithModel(ReadOnlySpan<byte> body, string? model, bool streamUsage)
    {
        if (model is null && !streamUsage)
        {
            return body.ToArray();
        }
        var reader = new Utf8JsonReader(body);
        JsonDocument document;
        try
        {
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e) when (model is not null)
        {
            throw new GatewayFormatException($"the request body is not JSON: {e.Message}");
        }
        catch (JsonException)
        {
            return body.ToArray();
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return model is null ? body.ToArray() : throw new GatewayFormatException("the request body must be a JSON object");
            }
            var addUsage = streamUsage && root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True
                && !(root.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object
                    && options.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True);
            if (model is null && !addUsage)
            {
                return body.ToArray();
            }
            var buffer = new ArrayBufferWriter<byte>(body.Length + 96);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                if (model is not null)
                {
                    writer.WriteString("model", model);
                }
                var wroteOptions = false;
                foreach (var property in root.EnumerateObject())
                {
                    if (model is not null && property.NameEquals("model"))
                    {
                        continue;
                    }
                    if (addUsage && property.NameEquals("stream_options"))
                    {
                        WriteStreamOptions(writer, property.Value);
                        wroteOptions = true;
                        continue;
                    }
                    property.WriteTo(writer);
                }
                if (addUsage && !wroteOptions)
                {
                    WriteStreamOptions(writer, default);
                }
                writer.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    private static void WriteStreamOptions(Utf8JsonWriter writer, JsonElement given)
    {
        writer.WriteStartObject("stream_options");
        writer.WriteBoolean("include_usage", true);
        if (given.ValueKind == JsonValueKind.Object)
        {
            foreach (var option in given.EnumerateObject())
            {
                if (!option.NameEquals("include_usage"))
                {
                    option.WriteTo(writer);
                }
            }
        }
        writer.WriteEndObject();
    }
}

/// <summary>A body the gateway cannot read or translate: the client's <c>invalid_request</c>.</summary>
public sealed class GatewayFormatException(string message) : Exception(message);
