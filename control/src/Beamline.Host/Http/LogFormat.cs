using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Http;

/// <summary>
/// <c>Beamline:Logging:Format</c>: <c>text</c> (the default console format) or <c>json</c> — one JSON
/// object a line, UTC timestamps, with the scopes of the line: ASP.NET's (request path, trace and
/// span id) and the pipeline's (<c>tenant_id</c>, <c>request_id</c>, <c>trace_id</c>), so that
/// every line of a request can be found by tenant, request or trace.
/// </summary>
internal static class LogFormat
{
    /// <summary>The configuration key.</summary>
    public const string Key = "Beamline:Logging:Format";

    /// <summary>Applies the configured format to <paramref name="builder"/>'s console logging.</summary>
    public static void Apply(WebApplicationBuilder builder)
    {
        var format = builder.Configuration[Key];
        if (string.IsNullOrEmpty(format) || string.Equals(format, "text", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        if (!string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"{Key} must be \"text\" or \"json\", not \"{format}\"");
        }
        builder.Logging.AddJsonConsole(json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
    }
}
