using System.Text;
using System.Text.Json;
using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class PayloadTextTests
{
    /// <summary>Upper-cases every text it is given and records it.</summary>
    private struct Upper() : ITextRewriter, ITextVisitor
    {
        public List<string> Seen { get; } = [];

        public readonly string? Rewrite(ReadOnlySpan<char> text)
        {
            Seen.Add(text.ToString());
            string upper = text.ToString().ToUpperInvariant();
            return upper == text.ToString() ? null : upper;
        }

        public readonly void Visit(ReadOnlySpan<char> text) => Seen.Add(text.ToString());
    }

    private static string? RewriteJson(string json)
    {
        var upper = new Upper();
        return PayloadText.TryRewrite(Encoding.UTF8.GetBytes(json), PayloadKind.Json, ref upper, out var rewritten)
            ? Encoding.UTF8.GetString(rewritten)
            : null;
    }

    private static List<string> VisitJson(string json)
    {
        var upper = new Upper();
        PayloadText.Visit(Encoding.UTF8.GetBytes(json), PayloadKind.Json, ref upper);
        return upper.Seen;
    }

    [Fact]
    public void Json_ChatRequest_RewritesOnlyMessageContent()
    {
        const string Json = """{"model":"gpt-4o","messages":[{"role":"user","content":"hi","name":"bob"}],"temperature":0.70,"user":"u1"}""";
        Assert.Equal("""{"model":"gpt-4o","messages":[{"role":"user","content":"HI","name":"bob"}],"temperature":0.70,"user":"u1"}""", RewriteJson(Json));
    }

    [Fact]
    public void Json_ContentParts_RewritesTextPartsOnly()
    {
        const string Json = """{"messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"http://x/a.png"}}]}]}""";
        Assert.Equal("""{"messages":[{"role":"user","content":[{"type":"text","text":"LOOK"},{"type":"image_url","image_url":{"url":"http://x/a.png"}}]}]}""", RewriteJson(Json));
    }

    [Fact]
    public void Json_AnthropicRequest_RewritesSystemAndContentBlocks()
    {
        const string Json = """{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}""";
        Assert.Equal(["be brief", "hello"], VisitJson(Json));
        Assert.Equal("""{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"BE BRIEF"}],"messages":[{"role":"user","content":[{"type":"text","text":"HELLO"}]}]}""", RewriteJson(Json));
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"p"}""", new[] { "p" })]
    [InlineData("""{"prompt":["a","b"]}""", new[] { "a", "b" })]
    [InlineData("""{"input":"i"}""", new[] { "i" })]
    [InlineData("""{"input":["x","y"]}""", new[] { "x", "y" })]
    [InlineData("""{"input":[{"role":"user","content":"c"},{"role":"user","content":[{"type":"input_text","text":"t"}]}]}""", new[] { "c", "t" })]
    [InlineData("""{"text":"t","system":"s"}""", new[] { "t", "s" })]
    [InlineData("""{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"answer"}}]}""", new[] { "answer" })]
    [InlineData("""{"choices":[{"delta":{"content":"chunk"}}]}""", new[] { "chunk" })]
    [InlineData("""{"choices":[{"text":"legacy"}]}""", new[] { "legacy" })]
    [InlineData("""{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"claude says"}],"model":"claude"}""", new[] { "claude says" })]
    [InlineData("""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"d"}}""", new[] { "d" })]
    [InlineData("""{"output_text":"o","output":[{"type":"message","content":[{"type":"output_text","text":"r"}]}]}""", new[] { "o", "r" })]
    [InlineData("\"just a string\"", new[] { "just a string" })]
    public void Json_KnownTextFields_AreVisited(string json, string[] expected) => Assert.Equal(expected, VisitJson(json));

    [Theory]
    [InlineData("""{"model":"text","role":"content","id":"prompt","metadata":{"text":"no","content":"no"}}""")]
    [InlineData("""{"messages":[{"role":"user","name":"n","content":null}],"content":"top-level content is not text"}""")]
    [InlineData("""{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}""")]
    [InlineData("""[{"text":"root array"}]""")]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"text":"deep"}}}}}}}}""")]
    public void Json_OtherFields_AreNotVisited(string json) => Assert.Empty(VisitJson(json));

    [Fact]
    public void Json_NothingChanged_ReturnsFalse()
    {
        Assert.Null(RewriteJson("""{"model":"m","messages":[{"role":"user","content":"ALREADY"}]}"""));
    }

    [Fact]
    public void Json_EscapedStrings_AreUnescapedAndReencoded()
    {
        string? rewritten = RewriteJson("""{"messages":[{"role":"user","content":"a\"b\nc\u00e9"}],"n":1e3}""");
        Assert.Equal("""{"messages":[{"role":"user","content":"A\"B\nCÉ"}],"n":1e3}""", rewritten);
        using var document = JsonDocument.Parse(rewritten!);
        Assert.Equal("A\"B\nCÉ", document.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public void Json_EscapedPropertyName_IsRecognised()
    {
        Assert.Equal(["x"], VisitJson("""{"m\u0065ssages":[{"content":"x"}]}"""));
    }

    [Fact]
    public void Json_Malformed_Throws()
    {
        Assert.ThrowsAny<JsonException>(() => VisitJson("""{"messages":[{"content":"x"}"""));
    }

    [Fact]
    public void Text_RewritesTheWholeText()
    {
        var upper = new Upper();
        Assert.True(PayloadText.TryRewrite(Encoding.UTF8.GetBytes("héllo"), PayloadKind.Text, ref upper, out var rewritten));
        Assert.Equal("HÉLLO", Encoding.UTF8.GetString(rewritten));
    }

    [Theory]
    [InlineData(PayloadKind.Binary)]
    [InlineData(PayloadKind.None)]
    public void BinaryOrNone_IsUntouched(PayloadKind kind)
    {
        var upper = new Upper();
        Assert.False(PayloadText.TryRewrite("abc"u8.ToArray(), kind, ref upper, out _));
        PayloadText.Visit("abc"u8.ToArray(), kind, ref upper);
        Assert.Empty(upper.Seen);
    }
}
