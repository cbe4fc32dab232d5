using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using Beamline.Cp1;
using Beamline.Policies;

namespace Beamline.Host.Routing;

/// <summary>
/// Request reading and error replies shared by the router admin views (HTTP and NATS alike).
/// Errors use the CP1 codes in the layout of the Erlang router's admin replies, with CP1's
/// <c>details</c> and this instance's id: <c>{"ok":false,"instance_id","error":{code, message,
/// details{field?, type?}}}</c>. Nothing here throws for any input.
/// </summary>
internal static class RouterAdminJson
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Writes an admin error reply; returns its HTTP status.</summary>
    public static int WriteError(Utf8JsonWriter writer, string instanceId, Cp1Error error)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", false);
        writer.WriteString("instance_id", instanceId);
        writer.WriteStartObject("error");
        writer.WriteString("code", error.Code);
        writer.WriteString("message", error.Message);
        writer.WriteStartObject("details");
        if (error.Field is not null)
        {
            writer.WriteString("field", error.Field);
        }
        if (error.Type is not null)
        {
            writer.WriteString("type", error.Type);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
        return error.HttpStatus;
    }

    /// <summary>
    /// Parses a request body that must be one JSON object. On success the caller disposes
    /// <paramref name="document"/>; on failure it is null and the error says why.
    /// </summary>
    public static Cp1Error? TryParseObject(ReadOnlySpan<byte> body, int maxBytes, out JsonDocument? document)
    {
        document = null;
        if (body.Length > maxBytes)
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest,
                string.Create(CultureInfo.InvariantCulture, $"request too large: {body.Length} bytes exceeds the limit of {maxBytes} bytes"),
                null, Cp1ErrorTypes.TooLarge);
        }
        try
        {
            var parsed = JsonDocument.Parse(body.ToArray(), DocumentOptions);
            if (parsed.RootElement.ValueKind != JsonValueKind.Object)
            {
                parsed.Dispose();
                return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body must be a JSON object", null, Cp1ErrorTypes.InvalidJson);
            }
            document = parsed;
            return null;
        }
        catch (JsonException)
        {
            return new Cp1Error(Cp1ErrorCodes.InvalidRequest, "request body is not valid JSON", null, Cp1ErrorTypes.InvalidJson);
        }
    }

    /// <summary>A required, non-empty string member; absent and <c>null</c> are both missing.</summary>
    public static Cp1Error? RequiredString(JsonElement parent, string name, out string value)
    {
        value = string.Empty;
        if (!parent.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null)
        {
            return Missing(name);
        }
        if (member.ValueKind != JsonValueKind.String)
        {
            return InvalidType(name, "a string");
        }
        value = member.GetString()!;
        return value.Length == 0
            ? new Cp1Error(Cp1ErrorCodes.InvalidRequest, $"invalid field value: {name} must not be empty", name, Cp1ErrorTypes.InvalidValue)
            : null;
    }

    /// <summary>
    /// The optional <c>tenant_id</c> filter of a view's NATS request: an empty body (or one of only
    /// whitespace), <c>{}</c> or <c>"tenant_id": null</c> mean every tenant; anything malformed is an
    /// error, never "every tenant".
    /// </summary>
    public static Cp1Error? ReadTenantFilter(ReadOnlySpan<byte> body, int maxBytes, out string? tenantId)
    {
        tenantId = null;
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }
        if (TryParseObject(body, maxBytes, out var document) is { } error)
        {
            return error;
        }
        using (document)
        {
            if (!document!.RootElement.TryGetProperty("tenant_id", out var tenant) || tenant.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            return RequiredString(document.RootElement, "tenant_id", out tenantId!);
        }
    }

    /// <summary>A required member is absent or null.</summary>
    public static Cp1Error Missing(string field) =>
        new(Cp1ErrorCodes.InvalidRequest, $"missing required field: {field}", field, Cp1ErrorTypes.RequiredFieldMissing);

    /// <summary>A member has the wrong JSON type.</summary>
    public static Cp1Error InvalidType(string field, string expected) =>
        new(Cp1ErrorCodes.InvalidRequest, $"invalid field type: {field} must be {expected}", field, Cp1ErrorTypes.InvalidType);

    /// <summary>The tenant has no such policy (or the tenant does not exist).</summary>
    public static Cp1Error PolicyNotFound(string tenantId, string policyId) =>
        new(Cp1ErrorCodes.PolicyNotFound, $"policy '{policyId}' not found for tenant '{tenantId}'", "policy_id");

    /// <summary>Finds a tenant's policy in one routing state; false for an unknown tenant or policy.</summary>
    public static bool TryFindPolicy(RoutingState state, string tenantId, string policyId,
        [NotNullWhen(true)] out TenantRouting? tenant, [NotNullWhen(true)] out Policy? policy)
    {
        policy = null;
        return state.Tenants.TryGetValue(tenantId, out tenant) && tenant.Policies.TryGet(policyId, out policy);
    }

    /// <summary>The lower-case name of an extension mode, as policies write it.</summary>
    public static string Name(ExtensionMode mode) => mode == ExtensionMode.Optional ? "optional" : "required";

    /// <summary>The lower-case name of a validator's <c>on_fail</c>, as policies write it.</summary>
    public static string Name(ValidatorFailAction action) => action switch
    {
        ValidatorFailAction.Warn => "warn",
        ValidatorFailAction.Ignore => "ignore",
        _ => "block",
    };
}
