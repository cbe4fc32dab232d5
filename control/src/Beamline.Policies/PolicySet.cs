using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Beamline.Policies.Language;

namespace Beamline.Policies;

/// <summary>An immutable set of policies keyed by id, as the router sees them at one moment.</summary>
public sealed class PolicySet
{
    private readonly FrozenDictionary<string, Policy> _policies;
    private readonly FrozenDictionary<string, PolicyProgram> _programs;

    /// <summary>
    /// Creates a set; a later policy with the same id replaces an earlier one. Language policies are
    /// linked against the set here: one whose <c>use</c>s do not resolve (an unknown policy, a
    /// composition cycle) is left out and its error kept in <see cref="Errors"/>.
    /// </summary>
    public PolicySet(IEnumerable<Policy> policies)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var map = new Dictionary<string, Policy>(StringComparer.Ordinal);
        foreach (var policy in policies)
        {
            map[policy.Id] = policy;
        }
        var linked = PolicyLanguage.Link(map.Values);
        foreach (var policy in map.Values.ToList())
        {
            if (policy.Language is not null && !linked.Programs.ContainsKey(policy.Id))
            {
                map.Remove(policy.Id);
            }
        }
        _policies = map.ToFrozenDictionary(StringComparer.Ordinal);
        _programs = linked.Programs.ToFrozenDictionary(StringComparer.Ordinal);
        LeftOut = linked.Errors;
        Errors = [.. linked.Errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Value)];
    }

    /// <summary>The errors of language policies left out of the set (unknown <c>use</c> targets, cycles), by policy id order.</summary>
    public ImmutableArray<PolicyError> Errors { get; }

    /// <summary>The language policies left out of the set, by id, with their errors.</summary>
    public ImmutableDictionary<string, PolicyError> LeftOut { get; }

    /// <summary>The compiled program of a language policy.</summary>
    public bool TryGetProgram(string id, [MaybeNullWhen(false)] out PolicyProgram program) => _programs.TryGetValue(id, out program);

    /// <summary>An empty set.</summary>
    public static PolicySet Empty { get; } = new([]);

    /// <summary>Every policy.</summary>
    public ImmutableArray<Policy> Policies => _policies.Values;

    /// <summary>The number of policies.</summary>
    public int Count => _policies.Count;

    /// <summary>Finds a policy by id.</summary>
    public bool TryGet(string id, [MaybeNullWhen(false)] out Policy policy) => _policies.TryGetValue(id, out policy);

    /// <summary>
    /// Loads every <c>*.json</c> and <c>*.bpl</c> file in a folder (ids are the file names). Throws
    /// <see cref="PolicyValidationException"/> listing the errors of every invalid file.
    /// </summary>
    public static PolicySet LoadDirectory(string directory, PolicyLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var policies = new List<Policy>();
        var errors = ImmutableArray.CreateBuilder<PolicyError>();
        var files = Directory.GetFiles(directory, "*.json").Concat(Directory.GetFiles(directory, "*" + PolicyLanguage.FileExtension)).ToArray();
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
        var set = new PolicySet(policies);
        errors.AddRange(set.Errors);
        if (errors.Count > 0)
        {
            throw new PolicyValidationException(errors.ToImmutable());
        }
        return set;
    }
}
