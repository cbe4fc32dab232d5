using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Runtime.InteropServices;

namespace Beamline.Pipeline.Extensions;

/// <summary>
/// Writes the CP1 extension request <c>{"trace_id","tenant_id","request_id","payload","metadata"}</c>
/// that a service extension is sent. <c>payload</c> is the raw JSON for <see cref="PayloadKind.Json"/>,
/// a JSON string for <see cref="PayloadKind.Text"/>, a base64 string for <see cref="PayloadKind.Binary"/>
/// and null for none. Policy config is never written (nor anything else the caller did not put in
/// <see cref="ExtensionInput.Metadata"/>).
/// </summary>
public static class ExtensionRequestWriter
{
    private static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("trace_id");
    private static readonly JsonEncodedText TenantId = JsonEncodedText.Encode("tenant_id");
    private static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("request_id");
    private static readonly JsonEncodedText Payload = JsonEncodedText.Encode("payload");
    private static readonly JsonEncodedText Metadata = JsonEncodedText.Encode("metadata");

    /// <summary>Writes <paramref name="input"/> as the CP1 request into <paramref name="buffer"/>.</summary>
    public static void Write(IBufferWriter<byte> buffer, ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(input);
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartObject();
        if (input.TraceId is not null)
        {
            writer.WriteString(TraceId, input.TraceId);
        }
        writer.WriteString(TenantId, input.TenantId);
        writer.WriteString(RequestId, input.RequestId);
        var payload = input.Payload.Span;
        switch (input.PayloadKind)
        {
            case PayloadKind.Json when !payload.IsEmpty:
                writer.WritePropertyName(Payload);
                // The pipeline holds only valid JSON under PayloadKind.Json (faces and the runner check it).
                writer.WriteRawValue(payload, skipInputValidation: true);
                break;
            case PayloadKind.Text:
                writer.WriteString(Payload, payload);
                break;
            case PayloadKind.Binary:
                writer.WriteBase64String(Payload, payload);
                break;
            default:
                writer.WriteNull(Payload);
                break;
        }
        writer.WriteStartObject(Metadata);
        foreach (var (key, value) in input.Metadata)
        {
            writer.WriteString(key, value);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The request as a new array (tests, diagnostics).</summary>
    public static byte[] ToArray(ExtensionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var buffer = new ArrayBufferWriter<byte>(input.Payload.Length + 256);
        Write(buffer, input);
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>
/// Reads a service extension's answer into an <see cref="ExtensionReply"/>. Pre and post: <c>{payload?,
/// metadata?}</c> or the upstream post form <c>{message:{payload,…}, context}</c> (<c>message.payload</c>
/// is the payload, <c>context</c> the metadata; a top-level <c>payload</c> wins). Validators:
/// <c>{"status":"ok"|"reject","reason","details"}</c>, no status meaning ok. Any type: a non-null
/// <c>error</c> member (a string or <c>{code,message}</c>) or <c>"status":"error"</c> is an
/// <see cref="ExtensionFailure.Error"/>; a reply that is not JSON, not an object, or of the wrong shape
/// is <see cref="ExtensionFailure.Malformed"/>. Never throws for bad input.
/// </summary>
public static class ExtensionReplyReader
{
    /// <summary>
    /// Reads <paramref name="reply"/>. <paramref name="inputKind"/> is what the extension was sent: a
    /// JSON string answering a <see cref="PayloadKind.Text"/> payload is text, one answering a
    /// <see cref="PayloadKind.Binary"/> payload is base64; anything else is kept as raw JSON.
    /// </summary>
    public static ExtensionReply Read(ReadOnlySpan<byte> reply, ExtensionType type, PayloadKind inputKind)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(reply);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                document.Dispose();
                return ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply is not JSON (trailing data)");
            }
        }
        catch (JsonException)
        {
            return ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply is not JSON");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ExtensionReply.Failed(ExtensionFailure.Malformed, $"the reply is a JSON {Describe(root.ValueKind)}, not an object");
            }
            if (ErrorOf(root) is { } error)
            {
                return ExtensionReply.Failed(ExtensionFailure.Error, error);
            }
            return type == ExtensionType.Validator ? ReadVerdict(root) : ReadRewrite(root, inputKind);
        }
    }

    private static string? ErrorOf(JsonElement root)
    {
        if (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
        {
            return error.ValueKind switch
            {
                JsonValueKind.String => "the extension answered an error: " + error.GetString(),
                JsonValueKind.Object when error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String =>
                    "the extension answered an error: " + m.GetString(),
                JsonValueKind.Object when error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String =>
                    "the extension answered an error: " + c.GetString(),
                _ => "the extension answered an error",
            };
        }
        if (root.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String && status.ValueEquals("error"u8))
        {
            return root.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String
                ? "the extension answered an error: " + reason.GetString()
                : "the extension answered status error";
        }
        return null;
    }

    private static ExtensionReply ReadVerdict(JsonElement root)
    {
        if (!root.TryGetProperty("status", out var status) || status.ValueKind == JsonValueKind.Null)
        {
            return ExtensionReply.Unchanged;
        }
        if (status.ValueKind != JsonValueKind.String)
        {
            return ExtensionReply.Failed(ExtensionFailure.Malformed, "the validator's status is not a string");
        }
        if (status.ValueEquals("ok"u8))
        {
            return ExtensionReply.Unchanged;
        }
        if (!status.ValueEquals("reject"u8))
        {
            return ExtensionReply.Failed(ExtensionFailure.Malformed, $"the validator's status '{status.GetString()}' is neither ok nor reject");
        }
        string? reason = null;
        if (root.TryGetProperty("reason", out var r))
        {
            reason = r.ValueKind == JsonValueKind.String ? r.GetString() : r.ValueKind == JsonValueKind.Null ? null : r.GetRawText();
        }
        JsonElement? details = root.TryGetProperty("details", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : null;
        return new ExtensionReply { Rejected = true, Reason = reason, Details = details };
    }

    private static ExtensionReply ReadRewrite(JsonElement root, PayloadKind inputKind)
    {
        var hasPayload = root.TryGetProperty("payload", out var payload) && payload.ValueKind != JsonValueKind.Null;
        var hasMetadata = root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null;
        if (root.TryGetProperty("message", out var message) && message.ValueKind != JsonValueKind.Null)
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                return ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply's message is not an object");
            }
            if (!hasPayload && message.TryGetProperty("payload", out payload) && payload.ValueKind != JsonValueKind.Null)
            {
                hasPayload = true;
            }
            if (!hasMetadata && root.TryGetProperty("context", out metadata) && metadata.ValueKind != JsonValueKind.Null)
            {
                hasMetadata = true;
            }
        }
        Dictionary<string, string>? merged = null;
        if (hasMetadata)
        {
            if (metadata.ValueKind != JsonValueKind.Object)
            {
                return ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply's metadata is not an object");
            }
            merged = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var member in metadata.EnumerateObject())
            {
                merged[member.Name] = member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString()! : member.Value.GetRawText();
            }
        }
        if (!hasPayload)
        {
            return merged is null ? ExtensionReply.Unchanged : new ExtensionReply { Metadata = merged };
        }
        if (payload.ValueKind == JsonValueKind.String && inputKind == PayloadKind.Text)
        {
            return new ExtensionReply { Payload = Encoding.UTF8.GetBytes(payload.GetString()!), PayloadKind = PayloadKind.Text, Metadata = merged };
        }
        if (payload.ValueKind == JsonValueKind.String && inputKind == PayloadKind.Binary)
        {
            return payload.TryGetBytesFromBase64(out var bytes)
                ? new ExtensionReply { Payload = bytes, PayloadKind = PayloadKind.Binary, Metadata = merged }
                : ExtensionReply.Failed(ExtensionFailure.Malformed, "the reply's payload is not base64 (the payload sent was binary)");
        }
        var raw = JsonMarshal.GetRawUtf8Value(payload).ToArray();
        return new ExtensionReply { Payload = raw, PayloadKind = PayloadKind.Json, Metadata = merged };
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };
}
