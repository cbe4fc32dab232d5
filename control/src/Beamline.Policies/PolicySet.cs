using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace Beamline.Policies;

/// <summary>An immutable set of policies keyed by id, as the router sees them at one moment.</summary>
public sealed class PolicySet
{
    private readonly FrozenDictionary<string, Policy> _policies;

    /// <summary>Creates a set; a later policy with the same id replaces an earlier one.</summary>
    public PolicySet(IEnumerable<Policy> policies)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var map = new Dictionary<string, Policy>(StringComparer.Ordinal);
        foreach (var policy in policies)
        {
            map[policy.Id] = policy;
        }
        _policies = map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>An empty set.</summary>
    public static PolicySet Empty { get; } = new([]);

    /// <summary>Every policy.</summary>
    public ImmutableArray<Policy> Policies => _policies.Values;

    /// <summary>The number of policies.</summary>
    public int Count => _policies.Count;

    /// <summary>Finds a policy by id.</summary>
    public bool TryGet(string id, [MaybeNullWhen(false)] out Policy policy) => _policies.TryGetValue(id, out policy);

    /// <summary>
    /// Loads every <c>*.json</c> file in a folder (ids are the file names). Throws
    /// <see cref="PolicyValidationException"/> listing the errors of every invalid file.
    /// </summary>
    public static PolicySet LoadDirectory(string directory, PolicyLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var policies = new List<Policy>();
        var errors = ImmutableArray.CreateBuilder<PolicyError>();
        var files = Directory.GetFiles(directory, "*.json");
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
        {
            var result = PolicyLoader.LoadFile(file, options);
            if (result.Policy is { } policy)
            {
                policies.Add(policy);
            }
            errors.AddRange(result.Errors);
        }
        if (errors.Count > 0)
        {
            throw new PolicyValidationException(errors.ToImmutable());
        }
        return new PolicySet(policies);
    }
}
