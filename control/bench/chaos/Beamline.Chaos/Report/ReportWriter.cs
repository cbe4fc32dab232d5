using System.Globalization;
using System.Text;

namespace Beamline.Chaos.Report;

/// <summary>The table of a run: plain text for the console, Markdown between markers in docs/reliability.md.</summary>
public static class ReportWriter
{
    /// <summary>The line before the generated block.</summary>
    public const string BeginMarker = "<!-- chaos:begin (written by ./build.sh chaos: edit outside the markers) -->";

    /// <summary>The line after it.</summary>
    public const string EndMarker = "<!-- chaos:end -->";

    private static readonly string[] Header =
        ["scenario", "path", "sent", "answered", "ok", "error", "lost", "executed twice", "ok, no row", "error, ran", "retried", "back to service", "error codes / lost"];

    /// <summary>The failures of a run, one line each; empty when it passed.</summary>
    public static IReadOnlyList<string> Failures(IReadOnlyList<ScenarioReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var failures = new List<string>();
        foreach (var report in reports)
        {
            foreach (var path in report.Paths)
            {
                var name = $"{report.Scenario.Name}/{path.Path}";
                if (path.Lost > 0)
                {
                    failures.Add(Inv($"{name}: {path.Lost} lost ({path.LostReasons})"));
                }
                if (path.ExecutedTwice > 0)
                {
                    failures.Add(Inv($"{name}: {path.ExecutedTwice} executed twice"));
                }
                if (path.OkWithoutRow > 0)
                {
                    failures.Add(Inv($"{name}: {path.OkWithoutRow} answered ok without their write"));
                }
            }
            foreach (var path in report.Starved)
            {
                failures.Add(Inv($"{report.Scenario.Name}/{path.Path}: only {100.0 * path.Ok / path.Sent:F0} % answered ok (the fault must not starve the rest of the load: at least {100 * report.Scenario.RequiredOkShare:F0} %)"));
            }
            if (!report.RecoveredInTime)
            {
                failures.Add(report.Recovery is { } r
                    ? Inv($"{report.Scenario.Name}: full service {r.TotalSeconds:F2} s after NATS returned (target < {report.Options.RecoveryTarget.TotalSeconds:F0} s)")
                    : Inv($"{report.Scenario.Name}: no full service within 30 s after NATS returned"));
            }
        }
        return failures;
    }

    /// <summary>The table as aligned text.</summary>
    public static string Text(IReadOnlyList<ScenarioReport> reports)
    {
        var rows = Rows(reports).Prepend(Header).ToList();
        var widths = Enumerable.Range(0, Header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
        }
        return text.ToString();
    }

    /// <summary>The generated block of docs/reliability.md: run facts, the table, the verdict, the timelines.</summary>
    public static string Markdown(IReadOnlyList<ScenarioReport> reports, ChaosOptions options, DateTimeOffset when, string machine, TimeSpan took)
    {
        ArgumentNullException.ThrowIfNull(options);
        var md = new StringBuilder();
        md.AppendLine(BeginMarker);
        md.Append(Inv($"Last run: {when.UtcDateTime:yyyy-MM-dd HH:mm} UTC on {machine}, {took.TotalSeconds:F0} s in all; `./build.sh chaos`"));
        md.AppendLine(options.Label is { } label ? $" on {label}" : "");
        md.AppendLine(Inv($"(scenarios {string.Join(", ", reports.Select(r => r.Scenario.Name))}; {options.InFlight} requests in flight; {options.LoadSeconds:0.#} s of load per fault scenario; ")
            + Inv($"deadline {options.DeadlineMs} ms; answer timeout {options.AnswerTimeout.TotalSeconds:0.#} s; ")
            + (options.Durable ? "durable deployment (CP1 on JetStream end to end, `--block-dedupe on`); " : "core-NATS baseline (`--core`); ")
            + "CP1 assignments: "
            + (options.Assignments == AssignmentTransport.Core ? "core NATS" : "JetStream") + $" on `{options.AssignmentSubject}`; hung executor: `{options.HangType}`).");
        md.AppendLine();
        md.AppendLine("| " + string.Join(" | ", Header) + " |");
        md.AppendLine("|" + string.Concat(Header.Select((_, c) => c is >= 2 and <= 10 ? "---:|" : "---|")));
        foreach (var row in Rows(reports))
        {
            md.AppendLine("| " + string.Join(" | ", row.Select(cell => cell.Replace("|", "\\|", StringComparison.Ordinal))) + " |");
        }
        md.AppendLine();
        var failures = Failures(reports);
        md.AppendLine(failures.Count == 0 ? "**Result: pass** (0 lost, 0 executed twice, service back within the target)." : "**Result: fail**:");
        foreach (var failure in failures)
        {
            md.AppendLine($"- {failure}");
        }
        md.AppendLine();
        md.AppendLine("Timelines (t = seconds since the load started):");
        md.AppendLine();
        foreach (var report in reports)
        {
            md.AppendLine($"- **{report.Scenario.Name}** ({report.Scenario.Fault}): {string.Join("; ", report.Timeline)}");
        }
        md.AppendLine(EndMarker);
        return md.ToString();
    }

    /// <summary>Puts <paramref name="block"/> between the markers of <paramref name="file"/> (appended when it has none).</summary>
    public static async Task WriteAsync(string file, string block, CancellationToken cancellationToken)
    {
        var text = File.Exists(file) ? await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false) : "# Reliability\n";
        var begin = text.IndexOf(BeginMarker, StringComparison.Ordinal);
        var end = text.IndexOf(EndMarker, StringComparison.Ordinal);
        text = begin >= 0 && end > begin
            ? string.Concat(text.AsSpan(0, begin), block.TrimEnd('\n'), text.AsSpan(end + EndMarker.Length))
            : text.TrimEnd('\n') + "\n\n" + block;
        await File.WriteAllTextAsync(file, text, cancellationToken).ConfigureAwait(false);
    }

    private static IEnumerable<string[]> Rows(IReadOnlyList<ScenarioReport> reports)
    {
        foreach (var report in reports)
        {
            var first = true;
            foreach (var path in report.Paths)
            {
                var recovery = !first || !report.Scenario.MeasuresRecovery ? ""
                    : report.Recovery is { } r ? Inv($"{r.TotalSeconds:F2} s") : "> 30 s";
                var notes = string.Join("; ", new[] { path.ErrorCodes, path.LostReasons.Length > 0 ? "lost: " + path.LostReasons : "" }.Where(s => s.Length > 0));
                yield return
                [
                    first ? report.Scenario.Name : "", path.Path, N(path.Sent), N(path.Ok + path.Errors), N(path.Ok), N(path.Errors), N(path.Lost),
                    N(path.ExecutedTwice), N(path.OkWithoutRow), N(path.ErrorButRan), N(path.Retried), recovery, notes,
                ];
                first = false;
            }
        }
    }

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
