using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class MaskPiiExtensionTests
{
    private readonly MaskPiiExtension _mask = new();

    [Fact]
    public void Invoke_Text_MasksEachType()
    {
        var reply = _mask.Invoke(Inputs.Text(
            "a@b.io, +1 415 555 2671, 4111 1111 1111 1111, DE89 3704 0044 0532 0130 00, 123-45-6789, 10.0.0.1, ::1"));
        Assert.Equal("[EMAIL], [PHONE], [CARD], [IBAN], [SSN], [IP], [IP]", Inputs.PayloadOf(reply));
        Assert.Equal(PayloadKind.Text, reply.PayloadKind);
    }

    [Fact]
    public void Invoke_NoPii_IsUnchanged()
    {
        Assert.Same(ExtensionReply.Unchanged, _mask.Invoke(Inputs.Text("nothing to see, version 1.2.3, 2024-01-15")));
        Assert.Same(ExtensionReply.Unchanged, _mask.Invoke(Inputs.Json("""{"model":"a@b.io","messages":[{"role":"user","content":"hi"}]}""")));
    }

    [Fact]
    public void Invoke_OpenAiAnswer_MasksContentOnly()
    {
        var reply = _mask.Invoke(Inputs.Json("""{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Mail bob@example.com"}}],"usage":{"total_tokens":12}}"""));
        Assert.Equal("""{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Mail [EMAIL]"}}],"usage":{"total_tokens":12}}""", Inputs.PayloadOf(reply));
        Assert.Equal(PayloadKind.Json, reply.PayloadKind);
    }

    [Fact]
    public void Invoke_AnthropicAnswer_MasksContentBlocks()
    {
        var reply = _mask.Invoke(Inputs.Json("""{"id":"msg_1","content":[{"type":"text","text":"SSN 123-45-6789"},{"type":"tool_use","id":"t","input":{"q":"123-45-6789"}}]}"""));
        Assert.Equal("""{"id":"msg_1","content":[{"type":"text","text":"SSN [SSN]"},{"type":"tool_use","id":"t","input":{"q":"123-45-6789"}}]}""", Inputs.PayloadOf(reply));
    }

    [Fact]
    public void Invoke_TypesAndReplacement_AreApplied()
    {
        var reply = _mask.Invoke(Inputs.Text("a@b.io 10.0.0.1", """{"types":["ip"],"replacement":{"ip":"<ip>"},"unknown":1}"""));
        Assert.Equal("a@b.io <ip>", Inputs.PayloadOf(reply));
    }

    [Theory]
    [InlineData("""{"types":"email"}""", "'types' must be an array")]
    [InlineData("""{"types":["email","mac"]}""", "'types[1]' is 'mac'")]
    [InlineData("""{"types":[1]}""", "'types[0]' must be a string")]
    [InlineData("""{"replacement":{"zip":"x"}}""", "'replacement' names 'zip'")]
    [InlineData("""{"replacement":{"email":1}}""", "'replacement.email' must be a string")]
    [InlineData("""{"replacement":[]}""", "'replacement' must be an object")]
    [InlineData("""[1]""", "config must be a JSON object")]
    public void Invoke_BadConfig_FailsWithAClearMessage(string config, string message)
    {
        var reply = _mask.Invoke(Inputs.Text("a@b.io", config));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.StartsWith("mask_pii: ", reply.Message, StringComparison.Ordinal);
        Assert.Contains(message, reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invoke_MalformedJson_Fails()
    {
        var reply = _mask.Invoke(Inputs.Json("""{"choices":["""));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.Contains("not valid JSON", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invoke_Binary_IsUnchanged()
    {
        Assert.Same(ExtensionReply.Unchanged, _mask.Invoke(Inputs.Of("a@b.io"u8.ToArray(), PayloadKind.Binary)));
    }

    // The upstream fixture policy's per-type switches: false turns a type off, true keeps it on.
    [Fact]
    public void Invoke_PerTypeSwitches_TurnTypesOff()
    {
        var reply = _mask.Invoke(Inputs.Text("a@b.io, +1 415 555 2671, 10.0.0.1", """{"mask_email":true,"mask_phone":false}"""));
        Assert.Equal("[EMAIL], +1 415 555 2671, [IP]", Inputs.PayloadOf(reply));
    }
}
