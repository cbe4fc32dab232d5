using System.Text.Json;
using Beamline.Tenancy.Storage;

namespace Beamline.Tenancy.Replication;

/// <summary>Tenancy's rows as entities (key → JSON) and back, for replication.</summary>
internal static class TenancyEntities
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Dictionary<string, string> Export(TenancyRows rows)
    {
        var entities = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows.Tenants)
        {
            entities[$"tenant/{row.Id}"] = JsonSerializer.Serialize(row, Json);
        }
        foreach (var row in rows.Teams)
        {
            entities[$"team/{row.TenantId}/{row.Id}"] = JsonSerializer.Serialize(row, Json);
        }
        foreach (var row in rows.Keys)
        {
            entities[$"key/{row.Id}"] = JsonSerializer.Serialize(row, Json);
        }
        foreach (var row in rows.Policies)
        {
            entities[$"policy/{row.TenantId}/{row.Id}"] = JsonSerializer.Serialize(row, Json);
        }
        foreach (var row in rows.Providers)
        {
            entities[$"provider/{row.Id}"] = JsonSerializer.Serialize(row, Json);
        }
        return entities;
    }

    /// <summary>
    /// The rows of <paramref name="entities"/>; an entity that does not parse, or whose tenant or
    /// team is missing (it arrived before its parent, or outlived it), is left out.
    /// </summary>
    public static TenancyRows Import(IReadOnlyDictionary<string, string> entities)
    {
        var tenants = new List<TenantRow>();
        var teams = new List<TeamRow>();
        var keys = new List<KeyRow>();
        var policies = new List<PolicyRow>();
        var providers = new List<ProviderRow>();
        foreach (var (key, json) in entities)
        {
            try
            {
                switch (key[..key.IndexOf('/', StringComparison.Ordinal)])
                {
                    case "tenant": Add(tenants, json); break;
                    case "team": Add(teams, json); break;
                    case "key": Add(keys, json); break;
                    case "policy": Add(policies, json); break;
                    case "provider": Add(providers, json); break;
                    default: break;
                }
            }
            catch (Exception e) when (e is JsonException or ArgumentException)
            {
                // A malformed entity is skipped; the others still apply.
            }
        }
        var tenantIds = tenants.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        var teamIds = teams.Where(t => tenantIds.Contains(t.TenantId)).Select(t => (t.TenantId, t.Id)).ToHashSet();
        return new TenancyRows(
            [.. tenants.OrderBy(t => t.Id, StringComparer.Ordinal)],
            [.. teams.Where(t => tenantIds.Contains(t.TenantId))],
            [.. keys.Where(k => tenantIds.Contains(k.TenantId) && (k.TeamId is null || teamIds.Contains((k.TenantId, k.TeamId))))],
            [.. policies.Where(p => tenantIds.Contains(p.TenantId))],
            providers);
    }

    /// <summary>What turns <paramref name="before"/> into <paramref name="after"/>.</summary>
    public static (Dictionary<string, string> Puts, List<string> Deletes) Diff(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after)
    {
        var puts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in after)
        {
            if (!before.TryGetValue(key, out var old) || !string.Equals(old, json, StringComparison.Ordinal))
            {
                puts[key] = json;
            }
        }
        var deletes = new List<string>();
        foreach (var key in before.Keys)
        {
            if (!after.ContainsKey(key))
            {
                deletes.Add(key);
            }
        }
        return (puts, deletes);
    }

    private static void Add<T>(List<T> rows, string json)
    {
        if (JsonSerializer.Deserialize<T>(json, Json) is { } row)
        {
            rows.Add(row);
        }
    }
}
