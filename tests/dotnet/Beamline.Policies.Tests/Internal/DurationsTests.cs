using Beamline.Policies.Internal;

namespace Beamline.Policies.Tests.Internal;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("15s", 15_000)]
    [InlineData("10m", 600_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    public void TryParse_UnitForms_GiveTheDuration(string text, double ms)
    {
        Assert.True(Durations.TryParse(text, out var value, out var reason), reason);
        Assert.Equal(TimeSpan.FromMilliseconds(ms), value);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("10x")]
    [InlineData("m")]
    [InlineData("0ms")]
    public void TryParse_Malformed_Fails(string text)
    {
        Assert.False(Durations.TryParse(text, out _, out var reason));
        Assert.NotEmpty(reason);
    }

    [Fact]
    public void Describe_MixedUnits_SaysThemInWords()
    {
        Assert.Equal("1 hour 30 minutes", Durations.Describe(TimeSpan.FromMinutes(90)));
        Assert.Equal("15 seconds", Durations.Describe(TimeSpan.FromSeconds(15)));
    }
}
