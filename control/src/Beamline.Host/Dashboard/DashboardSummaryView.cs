using System.Runtime.InteropServices;
using System.Text.Json;
using Beamline.Dispatch;

namespace Beamline.Host.Dashboard;

/// <summary>
/// <c>GET /ui/api/summary</c> (admin key or dashboard session):
/// <c>{"ok":true,"instance_id","started_at","uptime_s","requests":SERIES,"providers":[{provider_id,...SERIES}],
/// "dispatch":{"mode":"in_process"|"nats","pools":[{pool, limit?, ...SERIES}]},"runtime":{...}}</c>,
/// where SERIES is <c>total, errors, per_second (the last 10 whole seconds' mean), per_second_1m,
/// history (requests in each of the last 60 seconds, oldest first), p50_ms, p99_ms (the last
/// minute's, null when none), window</c>. Figures are this instance's since it started.
/// </summary>
internal static class DashboardSummaryView
{
    public static void Write(Utf8JsonWriter writer, DashboardSummary summary, string instanceId, DispatchOptions dispatch, TimeProvider time)
    {
        var now = summary.Now;
        writer.WriteStartObject();
        writer.WriteBoolean("ok", true);
        writer.WriteString("instance_id", instanceId);
        writer.WriteString("started_at", summary.Started.UtcDateTime);
        writer.WriteNumber("uptime_s", Math.Round((time.GetUtcNow() - summary.Started).TotalSeconds, 1));
        writer.WritePropertyName("requests");
        writer.WriteStartObject();
        WriteSeries(writer, summary.Requests.Snapshot(now), history: true);
        writer.WriteEndObject();

        writer.WriteStartArray("providers");
        foreach (var (provider, series) in summary.Providers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteStartObject();
            writer.WriteString("provider_id", provider);
            WriteSeries(writer, series.Snapshot(now), history: false);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        WriteDispatch(writer, summary, dispatch, now);
        WriteRuntime(writer);
        writer.WriteEndObject();
    }

    private static void WriteDispatch(Utf8JsonWriter writer, DashboardSummary summary, DispatchOptions dispatch, long now)
    {
        var inProcess = string.IsNullOrEmpty(dispatch.Nats.Url);
        var pools = new SortedSet<string>(summary.Pools.Keys, StringComparer.Ordinal);
        if (inProcess)
        {
            pools.UnionWith(dispatch.InProcess.Pools.Keys);
        }
        writer.WriteStartObject("dispatch");
        writer.WriteString("mode", inProcess ? "in_process" : "nats");
        writer.WriteStartArray("pools");
        foreach (var pool in pools)
        {
            writer.WriteStartObject();
            writer.WriteString("pool", pool);
            if (inProcess && dispatch.InProcess.Pools.TryGetValue(pool, out var limit))
            {
                writer.WriteNumber("limit", limit);
            }
            var series = summary.Pools.GetValueOrDefault(pool) ?? new RollingSeries();
            WriteSeries(writer, series.Snapshot(now), history: false);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteRuntime(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("runtime");
        writer.WriteString("framework", RuntimeInformation.FrameworkDescription);
        writer.WriteString("os", RuntimeInformation.OSDescription);
        writer.WriteNumber("processors", Environment.ProcessorCount);
        writer.WriteNumber("working_set_bytes", Environment.WorkingSet);
        writer.WriteNumber("gc_heap_bytes", GC.GetTotalMemory(forceFullCollection: false));
        writer.WriteStartArray("gc_collections");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            writer.WriteNumberValue(GC.CollectionCount(generation));
        }
        writer.WriteEndArray();
        writer.WriteNumber("thread_pool_threads", ThreadPool.ThreadCount);
        writer.WriteNumber("thread_pool_queue", ThreadPool.PendingWorkItemCount);
        writer.WriteEndObject();
    }

    private static void WriteSeries(Utf8JsonWriter writer, RollingSnapshot snapshot, bool history)
    {
        long last10 = 0;
        long last60 = 0;
        for (var i = 0; i < snapshot.PerSecond.Length; i++)
        {
            last60 += snapshot.PerSecond[i];
            if (i >= snapshot.PerSecond.Length - 10)
            {
                last10 += snapshot.PerSecond[i];
            }
        }
        writer.WriteNumber("total", snapshot.Total);
        writer.WriteNumber("errors", snapshot.Errors);
        writer.WriteNumber("per_second", last10 / 10.0);
        writer.WriteNumber("per_second_1m", Math.Round(last60 / (double)RollingSeries.Seconds, 3));
        if (history)
        {
            writer.WriteStartArray("history");
            foreach (var count in snapshot.PerSecond)
            {
                writer.WriteNumberValue(count);
            }
            writer.WriteEndArray();
        }
        WriteMs(writer, "p50_ms", snapshot.P50Ms);
        WriteMs(writer, "p99_ms", snapshot.P99Ms);
        writer.WriteNumber("window", snapshot.WindowCount);
    }

    private static void WriteMs(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } ms)
        {
            writer.WriteNumber(name, Math.Round(ms, 3));
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
