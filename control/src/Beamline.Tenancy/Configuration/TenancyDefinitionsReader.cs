using System.Collections.Immutable;
using System.Text.Json;
using Beamline.Tenancy.ApiKeys;
using static Beamline.Tenancy.Internal.TenancyJson;

namespace Beamline.Tenancy.Configuration;

/// <summary>Reads a tenancy definitions file (docs/tenancy.md); every error names the offending field.</summary>
internal static class TenancyDefinitionsReader
{
    public static TenancyDefinitions Load(string path, IPolicyValidator validator)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(fullPath), DocumentOptions);
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"{fullPath}: not valid JSON (line {error.LineNumber + 1}, byte {error.BytePositionInLine + 1})", error);
        }
        using var owned = document;
        try
        {
            return Read(document.RootElement, fullPath, validator);
        }
        catch (TenancyException error)
        {
            throw new InvalidDataException($"{fullPath}: {error.Message}", error);
        }
    }

    public static TenancyDefinitions Read(JsonElement root, string fullPath, IPolicyValidator validator)
    {
        RequireObject(root, "");
        var path = "";
        // A whole Beamline configuration file holds the definitions under Beamline.Tenancy
        // (matched case-insensitively, as configuration keys are).
        if (TryGetMemberIgnoreCase(root, "Beamline", out var beamline)
            && TryGetMemberIgnoreCase(beamline, "Tenancy", out var tenancy))
        {
            root = tenancy;
            path = "Beamline.Tenancy";
            RequireObject(root, path);
        }
        var baseDirectory = System.IO.Path.GetDirectoryName(fullPath) ?? ".";
        var tenants = ImmutableArray.CreateBuilder<TenantDefinition>();
        var keyIds = new HashSet<string>(StringComparer.Ordinal);
        var tenantIds = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var tenant in Array(root, "tenants", path))
        {
            var tenantPath = Index(Join(path, "tenants"), index++);
            var definition = ReadTenant(tenant, tenantPath, baseDirectory, validator, keyIds);
            if (!tenantIds.Add(definition.Id))
            {
                throw TenancyException.Invalid(Join(tenantPath, "id"), $"tenant '{definition.Id}' is defined twice");
            }
            tenants.Add(definition);
        }
        var providers = ImmutableArray.CreateBuilder<ProviderEntry>();
        var providerIds = new HashSet<string>(StringComparer.Ordinal);
        index = 0;
        foreach (var provider in Array(root, "providers", path))
        {
            var providerPath = Index(Join(path, "providers"), index++);
            var entry = ReadProvider(provider, providerPath, routeId: null);
            if (!providerIds.Add(entry.Id))
            {
                throw TenancyException.Invalid(Join(providerPath, "id"), $"provider '{entry.Id}' is defined twice");
            }
            providers.Add(entry);
        }
        return new TenancyDefinitions { Path = fullPath, Tenants = tenants.ToImmutable(), Providers = providers.ToImmutable() };
    }

    /// <summary>A provider entry: a JSON object whose <c>id</c>, if present, must match <paramref name="routeId"/>.</summary>
    public static ProviderEntry ReadProvider(JsonElement provider, string path, string? routeId)
    {
        RequireObject(provider, path);
        var id = routeId is null ? RequireId(provider, "id", path) : OptionalId(provider, "id", path);
        if (routeId is not null && id is not null && id != routeId)
        {
            throw TenancyException.Invalid(Join(path, "id"), $"'{id}' does not match the provider id '{routeId}' in the path");
        }
        return new ProviderEntry(id ?? routeId!, Compact(provider));
    }

    /// <summary>A policy document as stored: compact JSON, after the validator accepted it.</summary>
    public static string ReadPolicy(JsonElement policy, string field, string tenantId, string policyId, IPolicyValidator validator)
    {
        if (validator.Validate(tenantId, policyId, policy) is { } problem)
        {
            throw TenancyException.Invalid(field, problem);
        }
        return Compact(policy);
    }

    /// <summary>The element re-written without comments or insignificant whitespace; numbers keep their text.</summary>
    public static string Compact(JsonElement element)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            element.WriteTo(writer);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static TenantDefinition ReadTenant(JsonElement tenant, string path, string baseDirectory, IPolicyValidator validator, HashSet<string> keyIds)
    {
        RequireObject(tenant, path);
        RejectUnknown(tenant, path, "id", "name", "default_policy", "limits", "teams", "keys", "policies");
        var id = RequireId(tenant, "id", path);

        var teams = ImmutableArray.CreateBuilder<TeamDefinition>();
        var index = 0;
        foreach (var team in Array(tenant, "teams", path))
        {
            var teamPath = Index(Join(path, "teams"), index++);
            RequireObject(team, teamPath);
            RejectUnknown(team, teamPath, "id", "name", "limits");
            var teamId = RequireId(team, "id", teamPath);
            if (teams.Any(t => t.Id == teamId))
            {
                throw TenancyException.Invalid(Join(teamPath, "id"), $"team '{teamId}' is defined twice");
            }
            teams.Add(new TeamDefinition
            {
                Id = teamId,
                Name = OptionalString(team, "name", teamPath),
                Limits = ReadLimitsMember(team, teamPath),
            });
        }

        var keys = ImmutableArray.CreateBuilder<KeyDefinition>();
        index = 0;
        foreach (var key in Array(tenant, "keys", path))
        {
            var keyPath = Index(Join(path, "keys"), index++);
            var definition = ReadKey(key, keyPath);
            if (definition.TeamId is { } teamId && !teams.Any(t => t.Id == teamId))
            {
                throw TenancyException.Invalid(Join(keyPath, "team_id"), $"team '{teamId}' is not defined in tenant '{id}'");
            }
            if (!keyIds.Add(definition.Id))
            {
                throw TenancyException.Invalid(Join(keyPath, "id"), $"key id '{definition.Id}' is defined twice");
            }
            keys.Add(definition);
        }

        var policies = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        index = 0;
        foreach (var policy in Array(tenant, "policies", path))
        {
            var policyPath = Index(Join(path, "policies"), index++);
            RequireObject(policy, policyPath);
            RejectUnknown(policy, policyPath, "id", "json", "file");
            var policyId = RequireId(policy, "id", policyPath);
            if (policies.Any(p => p.Key == policyId))
            {
                throw TenancyException.Invalid(Join(policyPath, "id"), $"policy '{policyId}' is defined twice");
            }
            policies.Add(new(policyId, ReadPolicyEntry(policy, policyPath, baseDirectory, id, policyId, validator)));
        }

        return new TenantDefinition
        {
            Id = id,
            Name = OptionalString(tenant, "name", path),
            DefaultPolicyId = OptionalId(tenant, "default_policy", path),
            Limits = ReadLimitsMember(tenant, path),
            Teams = teams.ToImmutable(),
            Keys = keys.ToImmutable(),
            Policies = policies.ToImmutable(),
        };
    }

    private static KeyDefinition ReadKey(JsonElement key, string path)
    {
        RequireObject(key, path);
        RejectUnknown(key, path, "id", "team_id", "name", "key", "key_hash", "expires_at", "revoked", "limits");
        var id = OptionalString(key, "id", path);
        var plaintext = OptionalString(key, "key", path);
        var hashText = OptionalString(key, "key_hash", path);
        byte[]? hash = null;
        if ((plaintext is null) == (hashText is null))
        {
            throw TenancyException.Invalid(Join(path, "key_hash"), "give exactly one of 'key_hash' (recommended) or 'key' (plaintext, demos only)");
        }
        if (plaintext is not null)
        {
            if (!ApiKeyFormat.TryParse(plaintext, out var parsedId, out _))
            {
                throw TenancyException.Invalid(Join(path, "key"), "must look like bl_<key-id>_<43 base64url characters>");
            }
            if (id is not null && !parsedId.SequenceEqual(id))
            {
                throw TenancyException.Invalid(Join(path, "id"), "does not match the id inside 'key'");
            }
            id = parsedId.ToString();
        }
        else
        {
            if (id is null || !ApiKeyFormat.IsValidKeyId(id))
            {
                throw TenancyException.Invalid(Join(path, "id"), "a pre-hashed key needs its key id: 1-64 of A-Z a-z 0-9 -");
            }
            if (!KeyDefinition.TryDecodeHash(hashText!, out var decoded))
            {
                throw TenancyException.Invalid(Join(path, "key_hash"), "must be 32 bytes in unpadded base64url (HMAC-SHA256, see docs/tenancy.md)");
            }
            hash = decoded;
        }
        return new KeyDefinition
        {
            Id = id,
            TeamId = OptionalId(key, "team_id", path),
            Name = OptionalString(key, "name", path),
            PlaintextKey = plaintext,
            Hash = hash,
            ExpiresAt = OptionalTime(key, "expires_at", path),
            Revoked = OptionalBool(key, "revoked", path),
            Limits = ReadLimitsMember(key, path),
        };
    }

    private static string ReadPolicyEntry(JsonElement policy, string path, string baseDirectory, string tenantId, string policyId, IPolicyValidator validator)
    {
        var hasJson = policy.TryGetProperty("json", out var inline);
        var file = OptionalString(policy, "file", path);
        if (hasJson == (file is not null))
        {
            throw TenancyException.Invalid(Join(path, "json"), "give exactly one of 'json' (the policy inline) or 'file' (a path relative to this file)");
        }
        if (hasJson)
        {
            return ReadPolicy(inline, Join(path, "json"), tenantId, policyId, validator);
        }
        var policyPath = System.IO.Path.GetFullPath(file!, baseDirectory);
        if (!File.Exists(policyPath))
        {
            throw TenancyException.Invalid(Join(path, "file"), $"'{policyPath}' does not exist");
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(policyPath), DocumentOptions);
            return ReadPolicy(document.RootElement, Join(path, "file"), tenantId, policyId, validator);
        }
        catch (JsonException error)
        {
            throw TenancyException.Invalid(Join(path, "file"), $"'{policyPath}' is not valid JSON: {error.Message}");
        }
    }

    private static IEnumerable<JsonElement> Array(JsonElement parent, string member, string path)
    {
        if (!parent.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        return value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : throw TenancyException.Invalid(Join(path, member), "must be an array");
    }

    private static bool TryGetMemberIgnoreCase(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
        }
        value = default;
        return false;
    }
}
