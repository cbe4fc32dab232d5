using Beamline.Host.Routing;
using NATS.Client.JetStream.Models;

namespace Beamline.Host.Tests.Routing;

/// <summary>The JetStream settings of <c>Beamline:Assignments</c> and the stream they make.</summary>
public sealed class AssignmentOptionsValidatorTests
{
    private readonly AssignmentOptionsValidator _validator = new();

    [Fact]
    public void Defaults_AreValid_AndJetStreamIsOff()
    {
        var options = new AssignmentOptions();

        Assert.True(_validator.Validate(null, options).Succeeded);
        Assert.False(options.JetStream);
        Assert.Equal("BEAMLINE_CP1_ASSIGN", options.StreamName);
    }

    [Theory]
    [InlineData("BEAMLINE.CP1")]
    [InlineData("has space")]
    [InlineData("a*")]
    [InlineData("")]
    public void JetStream_WithAStreamNameJetStreamRefuses_FailsAtStart(string name)
    {
        var result = _validator.Validate(null, new AssignmentOptions { JetStream = true, StreamName = name });

        Assert.True(result.Failed);
        Assert.Contains("StreamName", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void JetStream_WithADuplicateWindowLongerThanTheStreamKeepsMessages_FailsAtStart()
    {
        var options = new AssignmentOptions { JetStream = true, DuplicateWindow = TimeSpan.FromHours(2), MaxAge = TimeSpan.FromHours(1) };

        Assert.True(_validator.Validate(null, options).Failed);
        Assert.True(_validator.Validate(null, new AssignmentOptions { JetStream = true, PublishTimeout = TimeSpan.Zero }).Failed);
        // Off, the stream settings are not used and not checked.
        Assert.True(_validator.Validate(null, new AssignmentOptions { StreamName = "a.b" }).Succeeded);
    }

    [Fact]
    public void StreamConfig_IsAWorkQueueOverTheAllowedSubjects()
    {
        var options = new AssignmentOptions { JetStream = true, AllowedSubjects = ["caf.exec.assign.v1", "tenant_a.assign"] };

        var config = AssignmentStream.Config(options);

        Assert.Equal("BEAMLINE_CP1_ASSIGN", config.Name);
        Assert.Equal(["caf.exec.assign.v1", "tenant_a.assign"], config.Subjects);
        Assert.Equal(StreamConfigRetention.Workqueue, config.Retention);
        Assert.Equal(StreamConfigStorage.File, config.Storage);
        Assert.Equal(TimeSpan.FromMinutes(10), config.DuplicateWindow);
        Assert.Equal(TimeSpan.FromHours(1), config.MaxAge);
    }
}
