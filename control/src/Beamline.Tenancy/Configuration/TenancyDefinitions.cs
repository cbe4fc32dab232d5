using System.Buffers.Text;
using System.Collections.Immutable;

namespace Beamline.Tenancy.Configuration;

/// <summary>The tenants, teams, keys, policies and providers a configuration file defines.</summary>
internal sealed record TenancyDefinitions
{
    public static TenancyDefinitions Empty { get; } = new() { Path = "" };

    /// <summary>The file they were read from.</summary>
    public required string Path { get; init; }

    public ImmutableArray<TenantDefinition> Tenants { get; init; } = [];

    public ImmutableArray<ProviderEntry> Providers { get; init; } = [];
}

internal sealed record TenantDefinition
{
    public required string Id { get; init; }

    public string? Name { get; init; }

    public string? DefaultPolicyId { get; init; }

    public TenancyLimits Limits { get; init; } = TenancyLimits.None;

    public ImmutableArray<TeamDefinition> Teams { get; init; } = [];

    public ImmutableArray<KeyDefinition> Keys { get; init; } = [];

    /// <summary>Policy id → compact JSON text.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Policies { get; init; } = [];
}

internal sealed record TeamDefinition
{
    public required string Id { get; init; }

    public string? Name { get; init; }

    public TenancyLimits Limits { get; init; } = TenancyLimits.None;
}

internal sealed record KeyDefinition
{
    public required string Id { get; init; }

    public string? TeamId { get; init; }

    public string? Name { get; init; }

    /// <summary>A whole plaintext key (demos only): hashed at load, with a warning.</summary>
    public string? PlaintextKey { get; init; }

    /// <summary>The key's hash (<see cref="ApiKeys.ApiKeyHasher"/>), when given pre-hashed.</summary>
    public byte[]? Hash { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public bool Revoked { get; init; }

    public TenancyLimits Limits { get; init; } = TenancyLimits.None;

    public static bool TryDecodeHash(string text, out byte[] hash)
    {
        hash = new byte[ApiKeys.ApiKeyHasher.HashSize];
        return Base64Url.IsValid(text, out var length) && length == hash.Length
            && Base64Url.DecodeFromChars(text, hash) == hash.Length;
    }
}
