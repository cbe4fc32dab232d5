using System.Collections.Concurrent;

namespace Beamline.Pipeline.Telemetry;

/// <summary>
/// Keeps a label's distinct values under a cap: the first <c>max</c> values seen are kept, every
/// later one reads as <see cref="PipelineMetrics.Other"/>. A value once kept stays kept, so a
/// series never changes its name mid-life.
/// </summary>
internal sealed class LabelFold
{
    private readonly ConcurrentDictionary<string, string> _kept = new(StringComparer.Ordinal);
    private readonly int _max;
    private readonly Lock _gate = new();
    private volatile bool _full;

    public LabelFold(int max) => _max = Math.Max(0, max);

    public string Fold(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return PipelineMetrics.None;
        }
        if (_kept.TryGetValue(value, out var kept))
        {
            return kept;
        }
        if (_full)
        {
            return PipelineMetrics.Other;
        }
        lock (_gate)
        {
            if (_kept.TryGetValue(value, out kept))
            {
                return kept;
            }
            if (_kept.Count >= _max)
            {
                _full = true;
                return PipelineMetrics.Other;
            }
            _kept[value] = value;
            return value;
        }
    }
}
