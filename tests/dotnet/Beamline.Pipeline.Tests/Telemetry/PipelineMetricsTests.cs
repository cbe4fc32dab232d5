using System.Diagnostics.Metrics;
using Beamline.Pipeline.Telemetry;
using Microsoft.Extensions.Options;

namespace Beamline.Pipeline.Tests.Telemetry;

public sealed class PipelineMetricsTests : IDisposable
{
    private readonly TestMeterFactory _factory = new();
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, string> Tags)> _measurements = [];

    public PipelineMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_factory.Meters.Contains(instrument.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _factory.Dispose();
    }

    [Fact]
    public void RequestFinished_RecordsCountAndDurationWithAllLabels()
    {
        using var metrics = Create(new MetricsOptions());

        metrics.RequestFinished("openai", "acme", "chat", "mock_chat", "ok", TimeSpan.FromMilliseconds(250));

        var count = Assert.Single(_measurements, m => m.Instrument == "beamline.requests");
        Assert.Equal(1, count.Value);
        Assert.Equal("openai", count.Tags["face"]);
        Assert.Equal("acme", count.Tags["tenant"]);
        Assert.Equal("chat", count.Tags["policy"]);
        Assert.Equal("mock_chat", count.Tags["provider"]);
        Assert.Equal("ok", count.Tags["status"]);
        Assert.Equal(0.25, Assert.Single(_measurements, m => m.Instrument == "beamline.request.duration").Value, 3);
    }

    [Fact]
    public void RequestFinished_NoPolicyOrProvider_LabelsThemNone()
    {
        using var metrics = Create(new MetricsOptions());

        metrics.RequestFinished("cp1_http", "acme", null, null, "quota_exceeded", TimeSpan.Zero);

        var count = Assert.Single(_measurements, m => m.Instrument == "beamline.requests");
        Assert.Equal(PipelineMetrics.None, count.Tags["policy"]);
        Assert.Equal(PipelineMetrics.None, count.Tags["provider"]);
    }

    [Fact]
    public void RequestFinished_MoreTenantsThanTheCap_KeepsTheFirstSeenAndFoldsTheRestIntoOther()
    {
        using var metrics = Create(new MetricsOptions { MaxTenants = 2 });

        foreach (var tenant in new[] { "a", "b", "c", "a", "d", "b" })
        {
            metrics.RequestFinished("openai", tenant, "p", "x", "ok", TimeSpan.Zero);
        }

        var tenants = _measurements.Where(m => m.Instrument == "beamline.requests").Select(m => m.Tags["tenant"]).ToArray();
        Assert.Equal(["a", "b", PipelineMetrics.Other, "a", PipelineMetrics.Other, "b"], tenants);
    }

    [Fact]
    public void Caps_ApplyPerLabel_ProvidersAndExtensionsFoldIndependently()
    {
        using var metrics = Create(new MetricsOptions { MaxProviders = 1, MaxExtensions = 1 });

        metrics.ProviderAttempted("p1", "ok");
        metrics.ProviderAttempted("p2", "http_503");
        metrics.ExtensionCalled("e1", "pre", "ok", 5);
        metrics.ExtensionCalled("e2", "validator", "reject", 5);

        var providers = _measurements.Where(m => m.Instrument == "beamline.provider.attempts").Select(m => m.Tags["provider"]).ToArray();
        Assert.Equal(["p1", PipelineMetrics.Other], providers);
        var extensions = _measurements.Where(m => m.Instrument == "beamline.extension.calls").Select(m => m.Tags["extension"]).ToArray();
        Assert.Equal(["e1", PipelineMetrics.Other], extensions);
        Assert.Equal(0.005, _measurements.First(m => m.Instrument == "beamline.extension.duration").Value, 6);
    }

    [Fact]
    public void LabelFold_ConcurrentNewValues_NeverKeepsMoreThanTheCap()
    {
        var fold = new LabelFold(10);

        var kept = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 1000, i => kept.Add(fold.Fold("t" + i)));

        Assert.Equal(10, kept.Where(v => v != PipelineMetrics.Other).Distinct().Count());
    }

    private PipelineMetrics Create(MetricsOptions options) => new(_factory, Options.Create(options));

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, tag) in tags)
        {
            copy[key] = tag?.ToString() ?? "";
        }
        lock (_measurements)
        {
            _measurements.Add((instrument.Name, value, copy));
        }
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            Meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Meters)
            {
                meter.Dispose();
            }
        }
    }
}
