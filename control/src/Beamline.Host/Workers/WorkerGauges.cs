using System.Diagnostics.Metrics;
using Beamline.Pipeline.Telemetry;

namespace Beamline.Host.Workers;

/// <summary>
/// The workers' pools as gauges, read at each scrape from the last heartbeats:
/// <c>beamline_worker_pool_capacity</c>, <c>beamline_worker_pool_in_flight</c> and
/// <c>beamline_worker_pool_queued</c> with <c>{worker, pool}</c>, and <c>beamline_workers{state}</c>
/// (alive, gone, draining). Gauge series cannot be folded, so past <see cref="MaxSeriesWorkers"/>
/// workers (by id) the pool series are left out; <c>beamline_workers</c> still counts them all.
/// </summary>
internal sealed class WorkerGauges
{
    /// <summary>The most workers whose pools get series.</summary>
    public const int MaxSeriesWorkers = 100;

    public WorkerGauges(IMeterFactory meterFactory, WorkerDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(PipelineMetrics.MeterName);
        meter.CreateObservableGauge("beamline.worker.pool.capacity", () => Pools(directory, static p => p.Capacity), "{runner}",
            "Runners of each worker pool, from the worker's last heartbeat.");
        meter.CreateObservableGauge("beamline.worker.pool.in_flight", () => Pools(directory, static p => p.InFlight), "{block}",
            "Blocks running in each worker pool, from the worker's last heartbeat.");
        meter.CreateObservableGauge("beamline.worker.pool.queued", () => Pools(directory, static p => p.Queued), "{block}",
            "Blocks waiting in each worker pool, from the worker's last heartbeat.");
        meter.CreateObservableGauge("beamline.worker.pool.stuck", () => Pools(directory, static p => p.Stuck), "{runner}",
            "Runners of each worker pool given up on past a block's hard deadline whose threads still run, from the worker's last heartbeat.");
        meter.CreateObservableGauge("beamline.workers", () => Workers(directory), "{worker}",
            "Workers heard from in the last two minutes, by state (alive, draining, gone).");
    }

    private static List<Measurement<long>> Pools(WorkerDirectory directory, Func<PoolView, uint> value)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var worker in directory.Snapshot().Take(MaxSeriesWorkers))
        {
            if (!directory.IsAlive(worker))
            {
                continue;
            }
            foreach (var pool in worker.Pools)
            {
                measurements.Add(new Measurement<long>(value(pool), new("worker", worker.WorkerId), new("pool", pool.Name)));
            }
        }
        return measurements;
    }

    private static Measurement<int>[] Workers(WorkerDirectory directory)
    {
        int alive = 0, draining = 0, gone = 0;
        foreach (var worker in directory.Snapshot())
        {
            if (!directory.IsAlive(worker))
            {
                gone++;
            }
            else if (worker.Draining)
            {
                draining++;
            }
            else
            {
                alive++;
            }
        }
        return
        [
            new(alive, new KeyValuePair<string, object?>("state", "alive")),
            new(draining, new KeyValuePair<string, object?>("state", "draining")),
            new(gone, new KeyValuePair<string, object?>("state", "gone")),
        ];
    }
}
