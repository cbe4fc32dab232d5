using Beamline.Tenancy.ApiKeys;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Beamline.Host.Routing;

/// <summary>
/// Logs, once the server listens, which plaintext API keys the configuration file holds (the demo
/// key of the example configuration) with a ready-to-run decide command. Only the key's public
/// part (<c>bl_&lt;key-id&gt;_</c>) is logged: logs travel further than the file, and the secret
/// stays in the file. Hashed keys (<c>key_hash</c>) are never shown.
/// </summary>
internal static partial class ConfiguredKeys
{
    public static void Log(IConfiguration configuration, ILogger logger, string? url)
    {
        foreach (var tenant in configuration.GetSection("Beamline:Tenancy:tenants").GetChildren())
        {
            foreach (var key in tenant.GetSection("keys").GetChildren())
            {
                if (key["key"] is { Length: > 0 } apiKey && !string.Equals(key["revoked"], "true", StringComparison.OrdinalIgnoreCase)
                    && ApiKeyFormat.TryParse(apiKey, out var keyId, out _))
                {
                    LogKey(logger, tenant["id"] ?? "?", $"{ApiKeyFormat.Prefix}{keyId}_", url ?? "http://127.0.0.1:8080");
                }
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "API key {KeyPrefix}... of tenant '{TenantId}' from the configuration file (the secret is in the file).  Try: "
        + "curl -s {Url}/api/v1/routes/decide -H \"Authorization: Bearer <that key>\" -d @control/src/Beamline.Cli/examples/decide-request.json")]
    private static partial void LogKey(ILogger logger, string tenantId, string keyPrefix, string url);
}
