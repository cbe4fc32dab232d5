using System.Globalization;
using Beamline.Chaos;
using Beamline.Chaos.Report;
using Beamline.Chaos.Scenarios;

// The chaos suite: each scenario on its own fresh cluster, one after another; the table printed
// and (with --report) written into docs/reliability.md. Exit 0 when every scenario passed, 1 when
// one lost a request, ran a block twice or came back too slowly, 2 when the run itself failed.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ChaosOptions.Usage);
    return 0;
}
ChaosOptions options;
IReadOnlyList<ChaosScenario> scenarios;
try
{
    options = ChaosOptions.Parse(args);
    scenarios = ScenarioCatalog.Select(options.Scenarios);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(ChaosOptions.Usage);
    return 2;
}

// A bound on the whole run, whatever hangs: a full run takes about 2 minutes.
using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(10));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var reports = new List<ScenarioReport>();
var started = System.Diagnostics.Stopwatch.StartNew();
try
{
    foreach (var scenario in scenarios)
    {
        reports.Add(await ScenarioRunner.RunAsync(scenario, options, cancel.Token));
    }
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("chaos: stopped (Ctrl-C, or the run passed its 10 minutes)");
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine($"chaos: the run failed: {e}");
    return 2;
}

Console.WriteLine(ReportWriter.Text(reports));
var failures = ReportWriter.Failures(reports);
Console.WriteLine(failures.Count == 0 ? "chaos: pass" : "chaos: FAIL\n  " + string.Join("\n  ", failures));
if (options.ReportFile is { } file)
{
    var machine = string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName} ({Environment.ProcessorCount} cores, {CpuModel()})");
    await ReportWriter.WriteAsync(file, ReportWriter.Markdown(reports, options, DateTimeOffset.UtcNow, machine, started.Elapsed), CancellationToken.None);
    Console.WriteLine($"chaos: table written to {file}");
}
return failures.Count == 0 ? 0 : 1;

static string CpuModel()
{
    try
    {
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim() ?? "unknown CPU";
    }
    catch (IOException)
    {
        return "unknown CPU";
    }
}
