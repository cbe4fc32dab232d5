using Beamline.Nats;

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
    [InlineData("nats://127.0.0.1:4222,http://other:4222")]
    public void Validate_NonNatsUrl_FailsNamingTheKey(string url)
    {
        var result = new NatsClientOptionsValidator().Validate(null, new NatsClientOptions { Url = url });
        Assert.True(result.Failed);
        Assert.Contains("Beamline:Nats:Url", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UrlListAndTls_Succeed()
    {
        var result = new NatsClientOptionsValidator().Validate(null, new NatsClientOptions { Url = "nats://a:4222, tls://b:4222" });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("_INBOX_control", true)]
    [InlineData("_I.control-1", true)]
    [InlineData("_INBOX.>", false)]
    [InlineData("a.*", false)]
    [InlineData("a..b", false)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    public void Validate_InboxPrefix_WholeTokensOnly(string prefix, bool valid)
    {
        var result = new NatsClientOptionsValidator().Validate(null, new NatsClientOptions { Url = "nats://a:4222", InboxPrefix = prefix });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Beamline:Nats:InboxPrefix", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_MissingCredentialFilesAndHalfAClientCertificate_ReportEach()
    {
        var options = new NatsClientOptions
        {
            Url = "nats://127.0.0.1:4222",
            CredsFile = "/nonexistent/user.creds",
            Password = "secret",
            Tls = { CertFile = "/nonexistent/client.pem" },
        };
        var result = new NatsClientOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("Beamline:Nats:CredsFile", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Beamline:Nats:Password needs Beamline:Nats:User", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("CertFile and Beamline:Nats:Tls:KeyFile go together", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.FailureMessage, StringComparison.Ordinal);
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
