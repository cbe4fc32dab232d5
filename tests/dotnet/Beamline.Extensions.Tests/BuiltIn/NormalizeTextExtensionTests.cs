using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class NormalizeTextExtensionTests
{
    private readonly NormalizeTextExtension _normalize = new();

    [Fact]
    public void Invoke_Defaults_TrimCollapseAndComposeButKeepCase()
    {
        // "e" + combining acute (U+0301) composes to "é" (U+00E9).
        var reply = _normalize.Invoke(Inputs.Text("  Cafe\u0301   IS \t open\r\n\r\n  Now  "));
        Assert.Equal("Caf\u00e9 IS open\nNow", Inputs.PayloadOf(reply));
    }

    [Fact]
    public void Invoke_Lowercase_LowersInvariantly()
    {
        var reply = _normalize.Invoke(Inputs.Text("HELLO Ünïcode", """{"lowercase":true}"""));
        Assert.Equal("hello ünïcode", Inputs.PayloadOf(reply));
    }

    [Fact]
    public void Invoke_AllOff_IsUnchanged()
    {
        var config = """{"trim":false,"collapse_whitespace":false,"unicode_nfc":false,"lowercase":false}""";
        Assert.Same(ExtensionReply.Unchanged, _normalize.Invoke(Inputs.Text("  A  b\u0301 ", config)));
    }

    [Fact]
    public void Invoke_AlreadyNormal_IsUnchanged()
    {
        Assert.Same(ExtensionReply.Unchanged, _normalize.Invoke(Inputs.Text("already normal\ntext")));
    }

    [Fact]
    public void Invoke_Json_NormalizesOnlyMessageText()
    {
        var reply = _normalize.Invoke(Inputs.Json("""{"model":"  M  ","messages":[{"role":"user","content":"  Hi   there "}]}""", """{"lowercase":true}"""));
        Assert.Equal("""{"model":"  M  ","messages":[{"role":"user","content":"hi there"}]}""", Inputs.PayloadOf(reply));
    }

    [Theory]
    [InlineData("""{"lowercase":"yes"}""", "'lowercase' must be true or false, not a string")]
    [InlineData("""{"trim":1}""", "'trim' must be true or false, not a number")]
    [InlineData("\"x\"", "config must be a JSON object, not a string")]
    public void Invoke_BadConfig_Fails(string config, string message)
    {
        var reply = _normalize.Invoke(Inputs.Text("x", config));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.Equal("normalize_text: " + (message.StartsWith("config", StringComparison.Ordinal) ? message : "config " + message), reply.Message);
    }

    // The upstream fixture policy names it trim_whitespace.
    [Fact]
    public void Invoke_TrimWhitespaceFalse_KeepsTheEnds()
    {
        var reply = _normalize.Invoke(Inputs.Text("  a   b  ", """{"trim_whitespace":false}"""));
        Assert.Equal(" a b ", Inputs.PayloadOf(reply));
    }
}
