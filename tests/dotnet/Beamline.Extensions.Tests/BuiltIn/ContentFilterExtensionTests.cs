using Beamline.Extensions.BuiltIn;
using Beamline.Pipeline.Extensions;

namespace Beamline.Extensions.Tests.BuiltIn;

public sealed class ContentFilterExtensionTests
{
    private readonly ContentFilterExtension _filter = new();

    [Fact]
    public void Invoke_Words_MatchWholeWordsCaseInsensitively()
    {
        const string Config = """{"words":["secret","top plan"]}""";
        var reply = _filter.Invoke(Inputs.Json("""{"messages":[{"role":"user","content":"The SECRET is the Top Plan; secret!"}]}""", Config));
        Assert.True(reply.Rejected);
        Assert.Equal("content_filtered", reply.Reason);
        Inputs.JsonEqual("""{"matches":3,"rules":["word:secret","word:top plan"]}""", reply.Details!.Value.GetRawText());

        Assert.Same(ExtensionReply.Unchanged, _filter.Invoke(Inputs.Text("secrets and topsecret", Config)));
    }

    [Fact]
    public void Invoke_WordWithPunctuation_IsMatched()
    {
        var reply = _filter.Invoke(Inputs.Text("I like C++ a lot", """{"words":["c++"]}"""));
        Inputs.JsonEqual("""{"matches":1,"rules":["word:c++"]}""", reply.Details!.Value.GetRawText());
    }

    [Fact]
    public void Invoke_Patterns_ReportTheirIndex()
    {
        const string Config = """{"words":["alpha"],"patterns":["\\bproj-[0-9]{3}\\b","zzz"]}""";
        var reply = _filter.Invoke(Inputs.Text("see proj-123 and proj-456", Config));
        Inputs.JsonEqual("""{"matches":2,"rules":["pattern:0"]}""", reply.Details!.Value.GetRawText());
    }

    [Fact]
    public void Invoke_NothingMatches_Accepts()
    {
        Assert.Same(ExtensionReply.Unchanged, _filter.Invoke(Inputs.Text("clean", """{"words":["dirty"],"patterns":["x+y"]}""")));
        Assert.Same(ExtensionReply.Unchanged, _filter.Invoke(Inputs.Text("clean")));
        Assert.Same(ExtensionReply.Unchanged, _filter.Invoke(Inputs.Text("clean", "{}")));
    }

    [Theory]
    [InlineData("""{"patterns":["(a)\\1"]}""", "'patterns[0]' uses a construct")]
    [InlineData("""{"patterns":["ok","foo(?=bar)"]}""", "'patterns[1]' uses a construct")]
    [InlineData("""{"patterns":["(?<!x)y"]}""", "'patterns[0]' uses a construct")]
    [InlineData("""{"patterns":["(unclosed"]}""", "'patterns[0]' is not a valid regular expression")]
    [InlineData("""{"words":"bad"}""", "'words' must be an array of strings")]
    [InlineData("""{"words":[""]}""", "'words[0]' is empty")]
    public void Invoke_BadConfig_FailsWithAClearMessage(string config, string message)
    {
        var reply = _filter.Invoke(Inputs.Text("text", config));
        Assert.Equal(ExtensionFailure.Error, reply.Failure);
        Assert.StartsWith("content_filter: config ", reply.Message, StringComparison.Ordinal);
        Assert.Contains(message, reply.Message, StringComparison.Ordinal);

        // The refused config is cached with its error, and still refused.
        Assert.Equal(reply.Message, _filter.Invoke(Inputs.Text("text", config)).Message);
    }
}
