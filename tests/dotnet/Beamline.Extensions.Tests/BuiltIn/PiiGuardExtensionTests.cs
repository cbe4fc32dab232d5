using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class PiiGuardExtensionTests
{
    private readonly PiiGuardExtension _guard = new();

    [Fact]
    public void Invoke_Pii_RejectsWithTypesAndCountButNoPii()
    {
        var reply = _guard.Invoke(Inputs.Json("""{"model":"m","messages":[{"role":"user","content":"ip 10.0.0.1 and a@b.io, c@d.io"}]}"""));
        Assert.True(reply.Rejected);
        Assert.Equal("pii_detected", reply.Reason);
        Assert.NotNull(reply.Details);
        Inputs.JsonEqual("""{"types":["email","ip"],"count":3}""", reply.Details.Value.GetRawText());
        Assert.DoesNotContain("a@b.io", reply.Details.Value.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Invoke_NoPii_Accepts()
    {
        Assert.Same(ExtensionReply.Unchanged, _guard.Invoke(Inputs.Json("""{"model":"a@b.io","user":"123-45-6789","messages":[{"role":"user","content":"hello"}]}""")));
    }

    [Fact]
    public void Invoke_Types_LimitsWhatIsDetected()
    {
        Assert.Same(ExtensionReply.Unchanged, _guard.Invoke(Inputs.Text("a@b.io", """{"types":["card","ssn"]}""")));
        var reply = _guard.Invoke(Inputs.Text("a@b.io 123-45-6789", """{"types":["card","ssn"]}"""));
        Inputs.JsonEqual("""{"types":["ssn"],"count":1}""", reply.Details!.Value.GetRawText());
    }

    [Fact]
    public void Invoke_BadTypes_Fails()
    {
        var reply = _guard.Invoke(Inputs.Text("x", """{"types":["passport"]}"""));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.Contains("pii_guard: config 'types[0]' is 'passport'", reply.Message, StringComparison.Ordinal);
    }
}
