using Beamline.Chaos.Load;
using Beamline.Chaos.Report;

namespace Beamline.Chaos.Tests.Report;

public sealed class PathTallyTests
{
    private sealed class RowPath(bool writesRows, Dictionary<string, int>? executions = null) : ILoadPath
    {
        public string Name => "p";

        public string Description => "a test path";

        public bool WritesRows => writesRows;

        public Task<Outcome> SendAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

        public int Executions(string id) => executions?.GetValueOrDefault(id) ?? 0;
    }

    private static SentRequest Request(string id, Outcome outcome, string path = "p") => new(path, id, outcome, TimeSpan.Zero, TimeSpan.Zero);

    [Fact]
    public void From_CountsAnswersLossesAndExecutionsFromTheRows()
    {
        var requests = new[]
        {
            Request("once", Outcome.Ok(1)),
            Request("twice", Outcome.Ok(2)),
            Request("no-row", Outcome.Ok(1)),
            Request("error-ran", Outcome.Error("deadline_exceeded", 1)),
            Request("error", Outcome.Error("deadline_exceeded", 1)),
            Request("lost", Outcome.Lost("client timeout", 2)),
            Request("other-path", Outcome.Lost("client timeout", 1), path: "q"),
        };
        var rows = new Dictionary<string, int> { ["once"] = 1, ["twice"] = 2, ["error-ran"] = 1, ["lost"] = 1 };

        var tally = PathTally.From(new RowPath(writesRows: true), requests, rows);

        Assert.Equal(6, tally.Sent);
        Assert.Equal(3, tally.Ok);
        Assert.Equal(2, tally.Errors);
        Assert.Equal(1, tally.Lost);
        Assert.Equal(1, tally.ExecutedTwice);
        Assert.Equal(1, tally.OkWithoutRow);
        Assert.Equal(1, tally.ErrorButRan);
        Assert.Equal(2, tally.Retried);
        Assert.Equal("deadline_exceeded×2", tally.ErrorCodes);
        Assert.Equal("client timeout×1", tally.LostReasons);
        Assert.False(tally.Passed);
    }

    [Fact]
    public void From_APathWithoutRows_CountsTheExecutionsItObserved()
    {
        var path = new RowPath(writesRows: false, new Dictionary<string, int> { ["a"] = 1, ["b"] = 2 });

        var tally = PathTally.From(path, [Request("a", Outcome.Error("unknown_executor", 1)), Request("b", Outcome.Error("unknown_executor", 2))],
            new Dictionary<string, int>());

        Assert.Equal(1, tally.ExecutedTwice);
        Assert.Equal(0, tally.OkWithoutRow);
        Assert.Equal(0, tally.ErrorButRan);
    }

    [Fact]
    public void From_EveryRequestAnsweredAndRunOnce_Passes()
    {
        var tally = PathTally.From(new RowPath(writesRows: true), [Request("a", Outcome.Ok(1)), Request("b", Outcome.Error("deadline_exceeded", 1))],
            new Dictionary<string, int> { ["a"] = 1 });

        Assert.True(tally.Passed);
    }
}
