using Microsoft.Extensions.Logging;

namespace Beamline.Tenancy;

public sealed partial class TenantDirectory
{
    [LoggerMessage(1, LogLevel.Information, "Tenancy database {Path}: {Tenants} tenants, {Keys} API keys.")]
    private partial void LogOpened(string path, int tenants, int keys);

    [LoggerMessage(2, LogLevel.Information, "Applied tenancy definitions from {Path}: {Tenants} tenants, {Providers} providers.")]
    private partial void LogSeeded(string path, int tenants, int providers);

    [LoggerMessage(3, LogLevel.Warning, "SECURITY: API key '{KeyId}' of tenant '{TenantId}' is written in plaintext in {Path}. "
        + "Anyone who can read that file can use it. Fine for a demo; anywhere else give 'key_hash' instead, or create keys through the admin API.")]
    private partial void LogPlaintextKey(string keyId, string tenantId, string path);

    [LoggerMessage(4, LogLevel.Warning, "SECURITY: Beamline:Tenancy:Pepper is not set; using a pepper generated and stored in {Path}. "
        + "Set a secret pepper outside the database for production (changing it later invalidates the stored key hashes).")]
    private partial void LogGeneratedPepper(string path);

    [LoggerMessage(5, LogLevel.Error, "A tenancy change callback failed.")]
    private partial void LogChangeCallbackFailed(Exception error);

    [LoggerMessage(6, LogLevel.Information, "Tenancy admin: {Action} {What} '{Id}'.")]
    private partial void LogAdminChange(string action, string what, string id);

    [LoggerMessage(7, LogLevel.Information, "Tenancy: applied the shared configuration ({Changed} entities changed, {Removed} removed).")]
    private partial void LogReplicaApplied(int changed, int removed);

    [LoggerMessage(8, LogLevel.Error, "Tenancy: a change was committed here but could not be published to the other control planes.")]
    private partial void LogReplicaPublishFailed(Exception error);
}
