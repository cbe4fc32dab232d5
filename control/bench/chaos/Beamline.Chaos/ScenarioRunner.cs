using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Beamline.Chaos.Cluster;
using Beamline.Chaos.Load;
using Beamline.Chaos.Report;
using Beamline.Chaos.Scenarios;

namespace Beamline.Chaos;

/// <summary>What one scenario measured.</summary>
/// <param name="Scenario">The scenario.</param>
/// <param name="Paths">The figures per load path.</param>
/// <param name="Recovery">Time from NATS back to full service, when measured; null when measured and never reached, or not measured.</param>
/// <param name="Timeline">What happened when.</param>
/// <param name="Options">The run's options.</param>
public sealed record ScenarioReport(ChaosScenario Scenario, IReadOnlyList<PathTally> Paths, TimeSpan? Recovery, IReadOnlyList<string> Timeline,
    ChaosOptions Options)
{
    /// <summary>Whether full service returned within the target (true when the scenario does not measure it).</summary>
    public bool RecoveredInTime => !Scenario.MeasuresRecovery || Recovery is { } r && r <= Options.RecoveryTarget;

    /// <summary>The row-writing paths whose ok share is under <see cref="ChaosScenario.RequiredOkShare"/>.</summary>
    public IEnumerable<PathTally> Starved => Scenario.RequiredOkShare is { } floor
        ? Paths.Where(p => p.Path != "hung" && p.Path != "push" && p.Sent > 0 && p.Ok < floor * p.Sent)
        : [];

    /// <summary>0 lost, 0 executed twice, no lost write on every path, service back in time, and no path starved.</summary>
    public bool Passed => RecoveredInTime && Paths.All(p => p.Passed) && !Starved.Any();
}

/// <summary>Runs one scenario: cluster up, table created, load with faults beside it, every answer awaited, rows counted, cluster down.</summary>
public static class ScenarioRunner
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="scenario"/> with <paramref name="options"/>.</summary>
    public static async Task<ScenarioReport> RunAsync(ChaosScenario scenario, ChaosOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(options);
        var time = TimeProvider.System;
        Console.Error.WriteLine($"==> chaos: {scenario.Name} ({scenario.Fault}): {scenario.Shape.ControlPlanes} control plane(s), {scenario.Shape.Workers} worker(s)");
        await using var cluster = await ChaosCluster.StartAsync(scenario.Shape, options, cancellationToken).ConfigureAwait(false);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1024, ConnectTimeout = TimeSpan.FromSeconds(5) };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        // The durable deployment keeps results in the control planes' results stream: read as a CP1 router built for it does.
        await using var results = await ResultListener.StartAsync(cluster.Client, options.Durable ? "BEAMLINE_CP1_RESULTS" : null).ConfigureAwait(false);
        var paths = new LoadPaths(cluster, http, results, options);
        await PrepareAsync(cluster, http, paths, cancellationToken).ConfigureAwait(false);

        var plan = scenario.Plan(paths, options);
        var start = time.GetTimestamp();
        var context = new ScenarioContext(cluster, paths, options, start, time);
        var driver = new LoadDriver(plan, time);
        using var stopSending = new CancellationTokenSource();
        context.Note($"load: {string.Join(", ", plan.Select(p => $"{p.Path.Name} {p.InFlight} in flight"))}");
        var load = driver.RunAsync(start, stopSending.Token, cancellationToken);
        var inject = scenario.InjectAsync(context, cancellationToken);
        await Task.WhenAll(context.At(scenario.LoadSeconds(options), cancellationToken), inject).ConfigureAwait(false);
        context.Note("load stops sending; waiting for every answer");
        await stopSending.CancelAsync().ConfigureAwait(false);
        await load.ConfigureAwait(false);
        context.Note("every request answered or given up");
        await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);

        var rows = await ExecutionCounter.RowsPerIdAsync(cluster.TenantDatabase, cancellationToken).ConfigureAwait(false);
        var tallies = plan.Select(p => PathTally.From(p.Path, driver.Requests, rows)).ToList();
        NoteWhereTwiceRan(context, plan, driver.Requests, rows, results);
        return new ScenarioReport(scenario, tallies, context.Recovery, context.Timeline, options);
    }

    // A few of the requests that ran twice, with the workers that acknowledged them (CP1 paths): the why, for the report.
    private static void NoteWhereTwiceRan(ScenarioContext context, IReadOnlyList<LoadPlan> plan, IReadOnlyCollection<SentRequest> requests,
        IReadOnlyDictionary<string, int> rows, ResultListener results)
    {
        foreach (var path in plan.Select(p => p.Path))
        {
            var twice = requests.Where(r => r.Path == path.Name && (path.WritesRows ? rows.GetValueOrDefault(r.Id) : path.Executions(r.Id)) > 1)
                .Take(3).Select(r => results.AckedBy(r.Id) is { } ackers ? $"{r.Id} (acked by {ackers})" : r.Id).ToList();
            if (twice.Count > 0)
            {
                context.Note($"{path.Name} ran twice, e.g. {string.Join(", ", twice)}");
            }
        }
    }

    // The table, through every control plane (each must reach a worker), then a push (with JetStream
    // assignments the first push makes the stream) and a CP1 assignment answered: every subscription
    // is in place before the load starts.
    private static async Task PrepareAsync(ChaosCluster cluster, HttpClient http, LoadPaths paths, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + WarmUp;
        foreach (var controlPlane in cluster.LiveControlPlanes)
        {
            while (!await CreateTableAsync(http, controlPlane.BaseAddress, cancellationToken).ConfigureAwait(false))
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"the control plane at {controlPlane.BaseAddress} did not run a block within {WarmUp}:\n{controlPlane.Process.Output}");
                }
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
        var warm = 0;
        foreach (var (path, answered) in new (ILoadPath, Func<Outcome, bool>)[]
        {
            (paths.Push, o => o.Answer != Answer.Lost),
            (paths.Assignments, o => o.Answer == Answer.Ok),
        })
        {
            for (var i = 0; i < cluster.LiveControlPlanes.Count; i++)
            {
                while (!answered(await path.SendAsync($"warmup-{path.Name}-{++warm}", cancellationToken).ConfigureAwait(false)))
                {
                    if (DateTime.UtcNow > until)
                    {
                        throw new TimeoutException($"the {path.Name} path did not answer within {WarmUp}");
                    }
                }
            }
        }
    }

    private static async Task<bool> CreateTableAsync(HttpClient http, Uri controlPlane, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["type"] = "sql.exec",
            ["tenant_id"] = ChaosCluster.Tenant,
            ["pool"] = "io",
            ["deadline_ms"] = 10_000,
            ["payload"] = new JsonObject { ["sql"] = ExecutionCounter.CreateTableSql },
        }.ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(controlPlane, "v1/blocks"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ChaosCluster.Key);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
