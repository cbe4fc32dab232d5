using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Beamline.SharedState;
using Beamline.SharedState.Meters;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace Beamline.Benchmarks;

/// <summary>
/// What a reservation costs with shared (JetStream KV) counters: a measured loop, not
/// BenchmarkDotNet, since the interesting figure is the mix of local allowance grants and
/// compare-and-set round trips under contention. Starts its own nats-server with JetStream.
/// <c>dotnet run -c Release --project control/bench/Beamline.Benchmarks -- shared-state</c>
/// </summary>
internal static class SharedStateLoop
{
    private static readonly MeterClock Now = MeterClock.From(DateTimeOffset.UtcNow);

    public static async Task RunAsync()
    {
        var store = Directory.CreateTempSubdirectory("beamline-bench-js-").FullName;
        var port = FreePort();
        using var server = Process.Start(new ProcessStartInfo("nats-server", ["-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-js", "-sd", store])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            await Task.Delay(500);
            var url = $"nats://127.0.0.1:{port}";
            Console.WriteLine("| case | reservations | time per reservation (mean) | p50 | p99 | KV writes | conflicts |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            await using (var one = await InstanceAsync(url, "bench-a", "bench1"))
            {
                await Measure("in-process counter (baseline)", 1, 200_000, _ => new InProcessMeter());
                await Measure("allowance hit: reserve + settle, one thread", 1, 200_000, _ => Wrap(one.Meters.Get("budget.tenant.b.b.usd", MeterKind.Spend), 1_000_000_000_000_000));
                await Measure("allowance spent at every reservation: CAS round trip", 1, 3_000, _ => Wrap(one.Meters.Get("budget.tenant.c.c.usd", MeterKind.Spend), 0));
            }
            await using (var a = await InstanceAsync(url, "bench-a", "bench2"))
            await using (var b = await InstanceAsync(url, "bench-b", "bench2"))
            {
                // Two control planes, 4 threads each, one budget worth 20 000 reservations: 5 % chunks.
                await Measure("two instances × 4 threads, one budget (5 % chunks)", 8, 20_000 / 8,
                    i => Wrap((i % 2 == 0 ? a : b).Meters.Get("budget.tenant.d.d.usd", MeterKind.Spend), 20_000L * 1_000));
            }
        }
        finally
        {
            server.Kill();
            Directory.Delete(store, recursive: true);
        }
    }

    private static async Task Measure(string name, int threads, int perThread, Func<int, IMeter> meterOf)
    {
        var latencies = new long[threads * perThread];
        var meters = Enumerable.Range(0, threads).Select(meterOf).ToArray();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < perThread; i++)
            {
                var start = Stopwatch.GetTimestamp();
                meters[t].ReserveSettle();
                latencies[t * perThread + i] = Stopwatch.GetTimestamp() - start;
            }
        }, TaskCreationOptions.LongRunning)));
        watch.Stop();
        Array.Sort(latencies);
        var writes = meters.Distinct().Sum(m => m.Writes);
        var conflicts = meters.Distinct().Sum(m => m.Conflicts);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {latencies.Length} | {Ns(watch.ElapsedTicks * (double)threads / latencies.Length)} | {Ns(latencies[latencies.Length / 2])} | {Ns(latencies[latencies.Length * 99 / 100])} | {writes} | {conflicts} |"));
    }

    // Stopwatch ticks → readable.
    private static string Ns(double ticks)
    {
        var ns = ticks * 1e9 / Stopwatch.Frequency;
        return ns < 10_000 ? string.Create(CultureInfo.InvariantCulture, $"{ns:0} ns") : string.Create(CultureInfo.InvariantCulture, $"{ns / 1000:0.0} µs");
    }

    private static IMeter Wrap(SharedMeter meter, long limit) => new KvMeter(meter, limit);

    private static async Task<Instance> InstanceAsync(string url, string id, string bucket)
    {
        var connection = new NatsConnection(new NatsOpts { Url = url, Name = id });
        await connection.ConnectAsync();
        var shared = new SharedStateConnection(connection, Options.Create(new SharedStateOptions { InstanceId = id, CountersBucket = bucket }));
        MeterSet.EnsureThreadFloor();
        await shared.CountersAsync(CancellationToken.None);
        return new Instance(connection, new MeterSet(new MeterStore(shared), TimeProvider.System, NullLogger<MeterSet>.Instance));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private interface IMeter
    {
        long Writes { get; }

        long Conflicts { get; }

        void ReserveSettle();
    }

    private sealed class InProcessMeter : IMeter
    {
        private readonly Lock _lock = new();
        private long _reserved;
        private long _spent;

        public long Writes => 0;

        public long Conflicts => 0;

        public void ReserveSettle()
        {
            lock (_lock)
            {
                _reserved += 1_000;
            }
            lock (_lock)
            {
                _reserved -= 1_000;
                _spent += 1_000;
            }
        }
    }

    // limit 0: no allowance ever covers the next reservation (settled spend is written back at once), so each one writes.
    private sealed class KvMeter(SharedMeter meter, long limit) : IMeter
    {
        public long Writes => meter.Writes;

        public long Conflicts => meter.Conflicts;

        public void ReserveSettle()
        {
            var limits = limit == 0 ? new MeterLimits(1, MeterLimits.Unlimited) : new MeterLimits(limit, MeterLimits.Unlimited);
            if (limit == 0)
            {
                // A limit of 1 with nothing settled: each reservation takes the whole room, then gives it back.
                meter.TryTake(limits, 1, Now, out _);
                meter.Give(1);
                meter.Flush(Now with { UnixMs = Now.UnixMs + 10_000 }, final: true);
                return;
            }
            if (meter.TryTake(limits, 1_000, Now, out _))
            {
                meter.Settle(1_000, 1_000);
            }
        }
    }

    private sealed class Instance(NatsConnection connection, MeterSet meters) : IAsyncDisposable
    {
        public MeterSet Meters => meters;

        public async ValueTask DisposeAsync()
        {
            meters.Dispose();
            await connection.DisposeAsync();
        }
    }
}
