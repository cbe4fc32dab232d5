namespace Beamline.Chaos.Scenarios;

/// <summary>Every scenario, in the order a full run takes them.</summary>
public static class ScenarioCatalog
{
    /// <summary>All scenarios.</summary>
    public static IReadOnlyList<ChaosScenario> All { get; } =
    [
        new SteadyScenario(),
        new WorkerKillScenario(),
        new NatsRestartScenario(),
        new HungExecutorScenario(),
        new TwoByTwoScenario(),
    ];

    /// <summary>The scenarios named (all when none is); throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public static IReadOnlyList<ChaosScenario> Select(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
        {
            return All;
        }
        return [.. names.Select(name => All.FirstOrDefault(s => s.Name == name)
            ?? throw new ArgumentException($"unknown scenario '{name}' (known: {string.Join(", ", All.Select(s => s.Name))})"))];
    }
}
