namespace Beamline.Dispatch.Tests;

public sealed class DispatchOptionsValidatorTests
{
    private readonly DispatchOptionsValidator _validator = new();

    [Fact]
    public void Validate_Defaults_Succeed()
    {
        Assert.True(_validator.Validate(null, new DispatchOptions()).Succeeded);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4222")]
    [InlineData("not a url")]
    public void Validate_NonNatsUrl_FailsNamingTheKey(string url)
    {
        var result = _validator.Validate(null, new DispatchOptions { Nats = { Url = url } });
        Assert.True(result.Failed);
        Assert.Contains("Beamline:Nats:Url", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadPoolNameAndNegativeCapacity_ReportsBoth()
    {
        var options = new DispatchOptions();
        options.InProcess.Pools["bad.pool"] = 1;
        options.InProcess.Pools["io"] = -1;
        var result = _validator.Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("'bad.pool'", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Pools:io", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpu", true)]
    [InlineData("gpu-a100_2", true)]
    [InlineData("", false)]
    [InlineData("a.b", false)]
    [InlineData("a*", false)]
    [InlineData("a>", false)]
    [InlineData("a b", false)]
    public void PoolNames_OnlySubjectSafeTokens(string pool, bool valid)
    {
        Assert.Equal(valid, PoolNames.IsValid(pool));
    }
}
