using Beamline.Chaos.Report;
using Beamline.Chaos.Scenarios;

namespace Beamline.Chaos.Tests;

/// <summary>
/// The smoke test of the chaos suite: its smallest scenario (no fault) on a real nats-server, a
/// real control plane and two real workers, briefly. It checks that the harness counts right —
/// every request answered, every block's row written once — not how fast anything is.
/// </summary>
public sealed class ScenarioRunnerTests
{
    [Fact]
    public async Task Steady_EveryRequestOfEveryPathAnsweredAndEveryBlockRunOnce()
    {
        var options = new ChaosOptions { InFlight = 8, LoadSeconds = 3 };

        var report = await ScenarioRunner.RunAsync(new SteadyScenario(), options, CancellationToken.None);

        var table = ReportWriter.Text([report]);
        Assert.Equal(["blocks", "cp1", "push"], report.Paths.Select(p => p.Path));
        Assert.All(report.Paths, p => Assert.True(p.Sent > 0, table));
        Assert.True(report.Passed, table);
        // Without a fault the row-writing paths succeed (a busy CI machine may still time one out):
        // Passed above says each ok answer has exactly one row.
        Assert.All(report.Paths.Where(p => p.Path != "push"), p => Assert.True(p.Ok > 0, table));
        // A push carries a task type (chat) the workers have no executor for: answered, as an error.
        var push = report.Paths.Single(p => p.Path == "push");
        Assert.True(push.Errors == push.Sent && push.ErrorCodes.StartsWith("unknown_executor", StringComparison.Ordinal), table);
    }
}
