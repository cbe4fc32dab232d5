using System.Text.Json;
using Beamline.Cp1;

namespace Beamline.Host.Routing;

/// <summary>The body of <c>beamline.router.v1.get_decision</c>: <c>{"message_id": "...", "tenant_id"?: "..."}</c>.</summary>
internal static class GetDecisionRequest
{
    /// <summary>Reads the request; null when it is valid, else the CP1 error naming the field.</summary>
    public static Cp1Error? Read(ReadOnlySpan<byte> body, int maxBytes, out string? messageId, out string? tenantId)
    {
        messageId = tenantId = null;
        if (body.Length > maxBytes)
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"request too large: {body.Length} bytes exceeds the limit of {maxBytes} bytes");
        }
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body must be a JSON object", null, Cp1ErrorTypes.InvalidJson);
            }
            if (!root.TryGetProperty("message_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 } text)
            {
                return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "missing required field: message_id (a non-empty string)", "message_id",
                    Cp1ErrorTypes.RequiredFieldMissing);
            }
            messageId = text;
            if (root.TryGetProperty("tenant_id", out var tenant) && tenant.ValueKind != JsonValueKind.Null)
            {
                if (tenant.ValueKind != JsonValueKind.String)
                {
                    return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "invalid field type: tenant_id must be a string", "tenant_id", Cp1ErrorTypes.InvalidType);
                }
                tenantId = tenant.GetString();
            }
            return null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body is not valid JSON", null, Cp1ErrorTypes.InvalidJson);
        }
    }
}
