using System.Globalization;
using System.Text.RegularExpressions;

namespace Beamline.Host.Tests.Observability;

/// <summary>The samples of a Prometheus text exposition, enough to find one by name and labels.</summary>
public sealed partial class PrometheusText
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public string Text { get; private init; } = "";

    public static PrometheusText Parse(string text)
    {
        var parsed = new PrometheusText { Text = text };
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var match = Sample().Match(line);
            if (!match.Success)
            {
                continue;
            }
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in Label().Matches(match.Groups["labels"].Value))
            {
                labels[label.Groups["key"].Value] = Regex.Unescape(label.Groups["value"].Value);
            }
            var value = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var number => double.Parse(number, CultureInfo.InvariantCulture),
            };
            parsed._samples.Add((match.Groups["name"].Value, labels, value));
        }
        return parsed;
    }

    /// <summary>The samples named <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public IEnumerable<(Dictionary<string, string> Labels, double Value)> Find(string name, params (string Key, string Value)[] labels)
    {
        foreach (var sample in _samples)
        {
            if (sample.Name == name && labels.All(l => sample.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            {
                yield return (sample.Labels, sample.Value);
            }
        }
    }

    /// <summary>The sum of the matching samples' values (0 when none match).</summary>
    public double Sum(string name, params (string Key, string Value)[] labels) => Find(name, labels).Sum(s => s.Value);

    /// <summary>The distinct values of label <paramref name="key"/> among samples named <paramref name="name"/>.</summary>
    public HashSet<string> LabelValues(string name, string key)
        => [.. _samples.Where(s => s.Name == name && s.Labels.ContainsKey(key)).Select(s => s.Labels[key])];

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\S+)?$""")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
