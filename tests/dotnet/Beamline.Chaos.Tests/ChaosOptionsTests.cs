namespace Beamline.Chaos.Tests;

public sealed class ChaosOptionsTests
{
    [Fact]
    public void Parse_ReadsTheSwitches()
    {
        var options = ChaosOptions.Parse(["--scenario", "steady", "--scenario", "nats-restart", "--inflight", "16", "--seconds", "4",
            "--assignments", "jetstream", "--hang-type", "debug.hang", "--worker-arg", "--x", "--worker-arg", "1",
            "--cp-env", "Beamline__Assignments__JetStream=true"]);

        Assert.Equal(["steady", "nats-restart"], options.Scenarios);
        Assert.Equal(16, options.InFlight);
        Assert.Equal(4, options.LoadSeconds);
        Assert.Equal(AssignmentTransport.JetStream, options.Assignments);
        Assert.Equal("debug.hang", options.HangType);
        Assert.Equal(["--x", "1"], options.WorkerArgs);
        Assert.Equal("true", options.ControlPlaneEnvironment["Beamline__Assignments__JetStream"]);
    }

    [Fact]
    public void Defaults_AreTheDurableDeployment_OnTheHarnessTheControlPlanesAndTheWorkers()
    {
        var options = ChaosOptions.Parse(["--worker-arg", "--x"]);

        Assert.True(options.Durable);
        Assert.Equal(AssignmentTransport.JetStream, options.Assignments);
        Assert.Equal("true", options.ControlPlaneVariables()["Beamline__Assignments__JetStream"]);
        Assert.Equal(["--cp1-jetstream", "on", "--cp1-ack-wait-ms", "5000", "--block-dedupe", "on", "--x"], options.WorkerArguments());
        Assert.Equal("debug.hang", options.HangType);
    }

    [Fact]
    public void Parse_Core_RunsTheCoreNatsBaseline()
    {
        var options = ChaosOptions.Parse(["--core", "--worker-arg", "--x", "--cp-env", "A=1"]);

        Assert.False(options.Durable);
        Assert.Equal(AssignmentTransport.Core, options.Assignments);
        Assert.Equal(["--x"], options.WorkerArguments());
        Assert.Equal(new Dictionary<string, string> { ["A"] = "1" }, options.ControlPlaneVariables());
    }

    [Theory]
    [InlineData("--inflight", "0")]
    [InlineData("--inflight", "many")]
    [InlineData("--assignments", "kafka")]
    [InlineData("--unknown", "1")]
    [InlineData("--cp-env", "NOVALUE")]
    public void Parse_ABadValue_SaysWhich(string name, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => ChaosOptions.Parse([name, value]));

        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_AnUnknownScenario_NamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Scenarios.ScenarioCatalog.Select(["nope"]));

        Assert.Contains("worker-kill", e.Message, StringComparison.Ordinal);
    }
}
