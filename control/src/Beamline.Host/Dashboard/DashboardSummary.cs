using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Beamline.Pipeline.Telemetry;

namespace Beamline.Host.Dashboard;

/// <summary>
/// The live figures behind the dashboard's rate, latency and pool panels, taken from the pipeline's
/// own instruments on the <c>Beamline</c> meter (<see cref="PipelineMetrics"/>) by a
/// <see cref="MeterListener"/>: every finished request (in total and per provider) and every
/// dispatched block (per pool), each into a <see cref="RollingSeries"/>. It counts what happened
/// since it was created (the host creates it as it starts).
/// </summary>
internal sealed class DashboardSummary : IDisposable
{
    /// <summary>Series kept per provider or pool; past it, the rest share <see cref="PipelineMetrics.Other"/>.</summary>
    public const int MaxSeries = 64;

    private const string RequestDuration = "beamline.request.duration";
    private const string BlockDuration = "beamline.block.duration";

    private readonly MeterListener _listener = new();
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ConcurrentDictionary<string, RollingSeries> _providers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RollingSeries> _pools = new(StringComparer.Ordinal);

    public DashboardSummary(TimeProvider time)
    {
        _time = time;
        _origin = time.GetTimestamp();
        Started = time.GetUtcNow();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PipelineMetrics.MeterName && instrument.Name is RequestDuration or BlockDuration)
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<double>(static (instrument, seconds, tags, state) =>
            ((DashboardSummary)state!).OnMeasurement(instrument.Name, seconds, tags));
        _listener.Start();
    }

    /// <summary>When counting began.</summary>
    public DateTimeOffset Started { get; }

    /// <summary>Every finished request.</summary>
    public RollingSeries Requests { get; } = new();

    /// <summary>Finished requests per provider (<c>none</c>: no provider was called).</summary>
    public IReadOnlyDictionary<string, RollingSeries> Providers => _providers;

    /// <summary>Dispatched blocks per pool.</summary>
    public IReadOnlyDictionary<string, RollingSeries> Pools => _pools;

    /// <summary>Whole seconds since counting began: the clock the series are kept on.</summary>
    public long Now => (long)_time.GetElapsedTime(_origin).TotalSeconds;

    private void OnMeasurement(string instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var now = Now;
        var latencyMs = seconds * 1000.0;
        var status = Tag(tags, "status");
        var error = status is not ("ok" or null);
        if (instrument == RequestDuration)
        {
            Requests.Record(now, latencyMs, error);
            Series(_providers, Tag(tags, "provider") ?? PipelineMetrics.None).Record(now, latencyMs, error);
        }
        else
        {
            Series(_pools, Tag(tags, "pool") ?? PipelineMetrics.None).Record(now, latencyMs, error);
        }
    }

    private static RollingSeries Series(ConcurrentDictionary<string, RollingSeries> series, string name)
    {
        if (series.TryGetValue(name, out var existing))
        {
            return existing;
        }
        return series.GetOrAdd(series.Count < MaxSeries ? name : PipelineMetrics.Other, static _ => new RollingSeries());
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }
        return null;
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
