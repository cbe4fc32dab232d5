using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Beamline.Dispatch;
using Beamline.Worker.V2;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace Beamline.Cli.Commands;

/// <summary>
/// <c>beamline bench dispatch</c>: the project's own end-to-end load tool. Keeps N blocks in
/// flight through the configured dispatch path for a bounded time and prints one line:
/// <c>NAME inflight=.. payload=.. count=.. errors=.. req_per_s=.. p50_us=.. p99_us=.. cpu_us_per_req=..</c>
/// (the process's CPU time, all threads, during the measured window, per request).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var inflight = new Option<int>("--inflight") { Description = "Blocks in flight.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "Measured duration.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<double>("--warmup-seconds") { Description = "Unmeasured warm-up.", DefaultValueFactory = _ => 1 };
        var payloadBytes = new Option<int>("--payload-bytes") { Description = "Payload size.", DefaultValueFactory = _ => 200 };
        var type = new Option<string>("--type") { Description = "Block type.", DefaultValueFactory = _ => "echo" };
        var pool = new Option<string>("--pool") { Description = "Pool.", DefaultValueFactory = _ => "cpu" };
        var payloadText = new Option<string?>("--payload")
        {
            Description = "The payload as UTF-8 text (e.g. an executor's JSON); replaces --payload-bytes zero bytes.",
        };
        var tenant = new Option<string>("--tenant") { Description = "Tenant of the blocks.", DefaultValueFactory = _ => "bench" };
        var name = new Option<string?>("--name") { Description = "The name printed at the start of the result line." };
        var nats = CommonOptions.Nats();
        var config = CommonOptions.Config();
        var dispatch = new Command("dispatch", "Measure block dispatch (in-process, or over NATS with --nats).")
        {
            inflight, seconds, warmup, payloadBytes, payloadText, type, pool, tenant, name, nats, config,
        };
        dispatch.SetAction(async (parse, cancellationToken) =>
        {
            var natsUrl = parse.GetValue(nats);
            await using var services = DispatchServices.Build(CommonOptions.Overrides(natsUrl), parse.GetValue(config)?.FullName);
            if (!await DispatchServices.ConnectAsync(services, "beamline bench dispatch").ConfigureAwait(false))
            {
                return 1;
            }
            var dispatcher = services.GetRequiredService<IBlockDispatcher>();
            var template = new ExecRequest
            {
                Type = parse.GetValue(type)!,
                TenantId = parse.GetValue(tenant)!,
                Pool = parse.GetValue(pool)!,
                Payload = parse.GetValue(payloadText) is { } text
                    ? ByteString.CopyFromUtf8(text)
                    : ByteString.CopyFrom(new byte[parse.GetValue(payloadBytes)]),
                DeadlineMs = 10_000,
            };
            var n = Math.Max(1, parse.GetValue(inflight));
            var label = parse.GetValue(name) ?? $"cs_{dispatcher.Mode.Replace('-', '_')}_{template.Type.Replace('.', '_')}";
            return await MeasureAsync(label, template.Payload.Length, n, TimeSpan.FromSeconds(parse.GetValue(warmup)),
                TimeSpan.FromSeconds(parse.GetValue(seconds)), loop => DispatchLoop(dispatcher, template, loop), cancellationToken).ConfigureAwait(false);
        });
        return new Command("bench", "Load tools for docs/benchmarks.md.") { dispatch, EchoCommand.Create(), RequestCommand.Create(), ResponderCommand.Create(), DecideBenchCommand.Create() };
    }

    // One loop's operation: dispatch its own copy of the template, true when the block succeeded.
    private static Func<CancellationToken, ValueTask<bool>> DispatchLoop(IBlockDispatcher dispatcher, ExecRequest template, int loopId)
    {
        var request = template.Clone();
        var sequence = 0L;
        return async cancellationToken =>
        {
            request.BlockId = string.Create(CultureInfo.InvariantCulture, $"b{loopId}-{sequence++}");
            var result = await dispatcher.DispatchAsync(request, cancellationToken).ConfigureAwait(false);
            return result.Status == ExecStatus.Ok;
        };
    }

    /// <summary>
    /// Warms up, then keeps <paramref name="inflight"/> operations going for <paramref name="duration"/>
    /// and prints the result line. Exit code 0 when no operation failed. With
    /// <paramref name="serverCpuTime"/> (the server process's CPU time so far) the line also says the
    /// server's CPU per request over the measured window (<c>server_cpu_us_per_req</c>), which does not
    /// depend on how the client shares the cores.
    /// </summary>
    internal static async Task<int> MeasureAsync(string label, int payloadBytes, int inflight, TimeSpan warmup, TimeSpan duration,
        Func<int, Func<CancellationToken, ValueTask<bool>>> loopOperation, CancellationToken cancellationToken, Func<TimeSpan>? serverCpuTime = null)
    {
        var operations = Enumerable.Range(0, inflight).Select(loopOperation).ToArray();
        await WarmUpAsync(operations, warmup, cancellationToken).ConfigureAwait(false);
        var serverBefore = serverCpuTime?.Invoke() ?? TimeSpan.Zero;
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var (count, errors, elapsed, latencies) = await RunAsync(operations, duration, cancellationToken).ConfigureAwait(false);
        var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        var server = serverCpuTime is null ? string.Empty : string.Create(CultureInfo.InvariantCulture,
            $" server_cpu_us_per_req={(count == 0 ? 0 : (serverCpuTime() - serverBefore).TotalMicroseconds / count):F1}");
        Array.Sort(latencies);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label} inflight={inflight} payload={payloadBytes} count={count} errors={errors} " +
            $"req_per_s={count / elapsed.TotalSeconds:F0} p50_us={Percentile(latencies, 0.50):F1} p99_us={Percentile(latencies, 0.99):F1} " +
            $"cpu_us_per_req={(count == 0 ? 0 : cpu.TotalMicroseconds / count):F1}{server}"));
        return errors == 0 ? 0 : 1;
    }

    /// <summary>
    /// Runs unmeasured for at least <paramref name="minimum"/>, then on until the JIT has gone quiet:
    /// tiered compilation (tier-0, instrumented tier, tier-1, OSR) keeps recompiling the hot path for
    /// seconds on a busy small machine, and its background compiler thread would otherwise share the
    /// measured window's CPU. Bounded, so a JIT that never settles cannot stall the tool.
    /// </summary>
    private static async Task WarmUpAsync(Func<CancellationToken, ValueTask<bool>>[] operations, TimeSpan minimum,
        CancellationToken cancellationToken)
    {
        var slice = TimeSpan.FromMilliseconds(250);
        var limit = Stopwatch.GetTimestamp() + (long)((minimum + TimeSpan.FromSeconds(10)).TotalSeconds * Stopwatch.Frequency);
        if (minimum > TimeSpan.Zero)
        {
            await RunAsync(operations, minimum, cancellationToken).ConfigureAwait(false);
        }
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        var quietSlices = 0;
        while (quietSlices < 2 && Stopwatch.GetTimestamp() < limit && !cancellationToken.IsCancellationRequested)
        {
            await RunAsync(operations, slice, cancellationToken).ConfigureAwait(false);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            // A method or two per slice is background noise (a timer, a rare path), not tiering.
            quietSlices = now - compiled <= 2 ? quietSlices + 1 : 0;
            compiled = now;
        }
    }

    private static async Task<(long Count, long Errors, TimeSpan Elapsed, double[] LatenciesUs)> RunAsync(
        Func<CancellationToken, ValueTask<bool>>[] operations, TimeSpan duration, CancellationToken cancellationToken)
    {
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var loops = new Task<(List<double> Latencies, long Errors)>[operations.Length];
        for (var i = 0; i < operations.Length; i++)
        {
            var operation = operations[i];
            loops[i] = Task.Run(async () =>
            {
                var latencies = new List<double>(1 << 14);
                long errors = 0;
                while (Stopwatch.GetTimestamp() < stopAt && !cancellationToken.IsCancellationRequested)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var ok = await operation(cancellationToken).ConfigureAwait(false);
                    latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                    if (!ok)
                    {
                        errors++;
                    }
                }
                return (latencies, errors);
            }, cancellationToken);
        }
        var done = await Task.WhenAll(loops).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var all = new List<double>();
        long errorCount = 0;
        foreach (var (latencies, errors) in done)
        {
            all.AddRange(latencies);
            errorCount += errors;
        }
        return (all.Count, errorCount, elapsed, all.ToArray());
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
