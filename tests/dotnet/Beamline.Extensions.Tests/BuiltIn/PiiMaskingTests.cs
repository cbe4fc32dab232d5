using System.Text;
using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class PiiMaskingTests
{
    private static string? Mask(string payload, PayloadKind kind)
        => PiiMasking.Mask(Encoding.UTF8.GetBytes(payload), kind) is { } masked ? Encoding.UTF8.GetString(masked.Span) : null;

    [Fact]
    public void Mask_Json_MasksEveryStringValueNotOnlyMessageText()
    {
        // mask_pii leaves "user" and a tool call's arguments alone; a kept copy must not.
        var masked = Mask("""{"user":"a@b.io","messages":[{"role":"user","content":"call +1 415 555 2671"}],"tools":[{"args":{"ip":"10.0.0.1"}}],"n":1}""",
            PayloadKind.Json);
        Assert.Equal("""{"user":"[EMAIL]","messages":[{"role":"user","content":"call [PHONE]"}],"tools":[{"args":{"ip":"[IP]"}}],"n":1}""", masked);
    }

    [Fact]
    public void Mask_Json_KeepsPropertyNames()
    {
        Assert.Equal("""{"a@b.io":"[EMAIL]"}""", Mask("""{"a@b.io":"a@b.io"}""", PayloadKind.Json));
    }

    [Fact]
    public void Mask_JsonCutShort_IsMaskedAsText()
    {
        Assert.Equal("""{"messages":[{"content":"mail [EMAIL] and""", Mask("""{"messages":[{"content":"mail a@b.io and""", PayloadKind.Json));
    }

    [Fact]
    public void Mask_NoPii_IsTheSameBytes()
    {
        Assert.Equal("""{"model":"gpt-4o","n":2}""", Mask("""{"model":"gpt-4o","n":2}""", PayloadKind.Json));
        Assert.Equal("nothing here", Mask("nothing here", PayloadKind.Text));
    }

    [Fact]
    public void Mask_BinaryOrNone_IsNull()
    {
        Assert.Null(Mask("a@b.io", PayloadKind.Binary));
        Assert.Null(Mask("", PayloadKind.None));
    }

    [Fact]
    public void MaskText_MasksEachEntity()
    {
        Assert.Equal("to [EMAIL] from [IP]", PiiMasking.MaskText("to a@b.io from 10.0.0.1"));
        Assert.Equal("to [EMAIL]", PiiMasking.MaskText("to a@b.io"u8));
    }
}
