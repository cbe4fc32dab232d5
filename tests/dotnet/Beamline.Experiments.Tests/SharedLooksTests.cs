using Beamline.Experiments.Statistics;

namespace Beamline.Experiments.Tests;

/// <summary>
/// Looks on several control planes' figures (the host's KV share): the figures add up exactly, and
/// a look on the totals decides as one experiment that saw every observation would.
/// </summary>
public sealed class SharedLooksTests
{
    [Fact]
    public void Combine_IsTheSummaryOfAllObservations()
    {
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var values = Enumerable.Range(0, random.Next(0, 60)).Select(_ => (random.NextDouble() * 1000) - 100).ToArray();
            var split = random.Next(0, values.Length + 1);
            var whole = new RunningSummary();
            var left = new RunningSummary();
            var right = new RunningSummary();
            for (var i = 0; i < values.Length; i++)
            {
                whole.Add(values[i]);
                (i < split ? left : right).Add(values[i]);
            }

            var combined = SummaryState.Combine(left.State, right.State);

            Assert.Equal(whole.State.Count, combined.Count);
            Assert.Equal(whole.State.Mean, combined.Mean, 9);
            Assert.Equal(whole.State.M2, combined.M2, 6);
        }
    }

    [Fact]
    public void TwoInstancesFigures_LookAsOneExperimentThatSawThemAll()
    {
        var definition = ExperimentSimulation.Definition(ExperimentMetric.ErrorRate, samplesPerLook: 50, maxLooks: 3);
        var one = new ExperimentRegistry(TimeProvider.System).Create(definition);
        var a = new ExperimentRegistry(TimeProvider.System);
        var b = new ExperimentRegistry(TimeProvider.System);
        a.ShareLooks();
        b.ShareLooks();
        var onA = a.Create(definition);
        var onB = b.Create(definition);
        var random = new Random(3);
        ExperimentVerdict? verdict = null;
        for (var i = 0; i < 10_000 && verdict is null; i++)
        {
            var arm = one.ArmFor($"user-{i}");
            var failed = random.NextDouble() < (arm == 0 ? 0.5 : 0.1);
            one.RecordExecution(arm, failed, 100, 1000, DateTimeOffset.UnixEpoch);
            // Every other request lands on the other control plane.
            Assert.Null((i % 2 == 0 ? onA : onB).RecordExecution(arm, failed, 100, 1000, DateTimeOffset.UnixEpoch));
            verdict = onA.LookAt([.. onA.LocalStates().Zip(onB.LocalStates(), ArmState.Combine)], DateTimeOffset.UnixEpoch);
        }

        Assert.NotNull(verdict);
        Assert.Equal(ExperimentStatus.Running, onA.Status); // a verdict is applied only once it has won the shared record
        Assert.Equal(one.Verdict, verdict);
        Assert.Equal(ExperimentStatus.Promoted, verdict.Status);
        Assert.Equal(1, verdict.Winner);
        // Neither control plane alone had enough for that look.
        Assert.True(onA.LocalStates().Min(s => s.Executions) < 50 || onB.LocalStates().Min(s => s.Executions) < 50);

        a.ApplyVerdict(onA, verdict, decidedHere: true);
        Assert.Equal(ExperimentStatus.Promoted, onA.Status);
        Assert.Equal(1, onA.ArmFor("anyone"));
        Assert.Equal(onA.Results().Arms.Sum(arm => arm.Executions), one.Results().Arms.Sum(arm => arm.Executions));
    }

    [Fact]
    public void AVerdictDecidedHere_IsRecordedOnce_EvenWhenItsSharedEchoCameFirst()
    {
        var promotions = new CountingPromotions();
        var registry = new ExperimentRegistry(TimeProvider.System, promotions);
        registry.ShareLooks();
        var experiment = registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality));
        var verdict = new ExperimentVerdict(ExperimentStatus.Promoted, 1, 1, 0.001, DateTimeOffset.UnixEpoch);

        registry.ApplyVerdict(experiment, verdict, decidedHere: false); // the watch brought this instance's own write back first
        registry.ApplyVerdict(experiment, verdict, decidedHere: true);

        Assert.Equal(1, promotions.Count);
        Assert.Equal(ExperimentStatus.Promoted, experiment.Status);
    }

    [Fact]
    public void ALateRecord_NeverUndoesAStopOrALaterLook()
    {
        var registry = new ExperimentRegistry(TimeProvider.System);
        registry.ShareLooks();
        var experiment = registry.Create(ExperimentSimulation.Definition(ExperimentMetric.Quality));
        var snapshot = experiment.Save();

        registry.ApplyRemote(snapshot with { Looks = 2 });
        registry.ApplyRemote(snapshot with { Looks = 1 }); // an older look, arriving late
        Assert.Equal(2, experiment.Verdict.Looks);

        Assert.True(registry.Stop("t1", "exp"));
        registry.ApplyRemote(snapshot with { Looks = 3 }); // another control plane's look, written before the stop reached it
        registry.ApplyRemote(snapshot with { Status = ExperimentStatus.Promoted, Winner = 1, Looks = 3 });

        Assert.Equal(ExperimentStatus.Stopped, experiment.Status);
        Assert.False(registry.TryGetRouting("t1", "default", out _));
    }

    private sealed class CountingPromotions : IExperimentPromotions
    {
        public int Count;

        public void Promoted(ExperimentResults results) => Count++;
    }

    [Fact]
    public void ApplyRemote_AddsAnUnknownExperiment_AndTakesItsVerdict()
    {
        var registry = new ExperimentRegistry(TimeProvider.System);
        var changes = 0;
        registry.Changed += (_, _) => changes++;
        var snapshot = new ExperimentSnapshot
        {
            Definition = ExperimentSimulation.Definition(ExperimentMetric.Quality),
            CreatedAt = DateTimeOffset.UnixEpoch,
            Status = ExperimentStatus.Running,
            Arms = [ArmState.Empty, ArmState.Empty],
        };

        registry.ApplyRemote(snapshot);
        Assert.True(registry.TryGetRouting("t1", "default", out var experiment));
        registry.ApplyRemote(snapshot with { Status = ExperimentStatus.Promoted, Winner = 1, Looks = 2, EndedAt = DateTimeOffset.UnixEpoch });
        Assert.Equal(ExperimentStatus.Promoted, experiment.Status);
        Assert.Equal(1, experiment.ArmFor("anyone"));
        registry.ApplyRemoteDelete("t1", "exp");

        Assert.False(registry.TryGet("t1", "exp", out _));
        Assert.Equal(0, changes); // applied from elsewhere: nothing to send back
    }
}
