using System.Text.Json;

namespace Beamline.Host.Http;

/// <summary>
/// The CP1 error shape, <c>{"ok":false,"error":{code,message,details}}</c>, that every Beamline
/// client already parses.
/// </summary>
public static class Cp1Error
{
    /// <summary>The request was malformed (HTTP 400).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>An unexpected failure (HTTP 500).</summary>
    public const string Internal = "internal";

    /// <summary>Writes the error object; <paramref name="writeDetails"/> writes the members of <c>details</c>.</summary>
    public static void Write(Utf8JsonWriter writer, string code, string message, Action<Utf8JsonWriter>? writeDetails = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteBoolean("ok", false);
        writer.WriteStartObject("error");
        writer.WriteString("code", code);
        writer.WriteString("message", message);
        writer.WriteStartObject("details");
        writeDetails?.Invoke(writer);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
