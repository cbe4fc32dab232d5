using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Beamline.Routing.Catalog;

/// <summary>A catalog provider with its live statistics.</summary>
public sealed class ProviderEntry
{
    internal ProviderEntry(ProviderDescriptor descriptor, double alpha)
    {
        Descriptor = descriptor;
        Stats = new ProviderStats(descriptor.BaselineLatencyMs, alpha);
    }

    /// <summary>The provider id.</summary>
    public string Id => Descriptor.Id;

    /// <summary>The configuration.</summary>
    public ProviderDescriptor Descriptor { get; }

    /// <summary>The live statistics.</summary>
    public ProviderStats Stats { get; }
}

/// <summary>
/// The providers the router can choose, each with live statistics. A provider named by a
/// policy but not configured is added as <see cref="ProviderKind.Unknown"/> (free, baseline
/// latency) when the policy is compiled, so fixtures and CP1 policies that name
/// <c>local_llm</c> still route.
/// </summary>
public sealed class ProviderCatalog
{
    private readonly ConcurrentDictionary<string, ProviderEntry> _entries = new(StringComparer.Ordinal);
    private readonly double _alpha;

    /// <summary>Creates a catalog.</summary>
    /// <param name="providers">The configured providers; a later duplicate id replaces an earlier one.</param>
    /// <param name="latencyAlpha">The EWMA weight of a new observation. Defaults to 0.2.</param>
    public ProviderCatalog(IEnumerable<ProviderDescriptor> providers, double latencyAlpha = 0.2)
    {
        ArgumentNullException.ThrowIfNull(providers);
        _alpha = latencyAlpha;
        foreach (var descriptor in providers)
        {
            _entries[descriptor.Id] = new ProviderEntry(descriptor, latencyAlpha);
        }
    }

    /// <summary>Every entry (a snapshot).</summary>
    public IReadOnlyCollection<ProviderEntry> Entries => [.. _entries.Values];

    /// <summary>Finds a provider by id.</summary>
    public bool TryGet(string id, [MaybeNullWhen(false)] out ProviderEntry entry) => _entries.TryGetValue(id, out entry);

    /// <summary>Finds a provider, adding an <see cref="ProviderKind.Unknown"/> one when absent.</summary>
    public ProviderEntry GetOrAdd(string id) =>
        _entries.GetOrAdd(id, static (key, alpha) => new ProviderEntry(new ProviderDescriptor { Id = key, Kind = ProviderKind.Unknown }, alpha), _alpha);
}
