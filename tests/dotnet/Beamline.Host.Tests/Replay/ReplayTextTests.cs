using System.Text;
using Beamline.Host.Replay;

namespace Beamline.Host.Tests.Replay;

public sealed class ReplayTextTests
{
    [Fact]
    public void OfAnswer_OpenAIAnswer_IsItsMessageTextNotItsIdOrTimestamp()
    {
        var answer = """{"id":"chatcmpl-1","created":1700000000,"choices":[{"message":{"content":"Hello"}},{"message":{"content":"World"}}]}"""u8.ToArray();
        Assert.Equal("Hello\nWorld", ReplayText.OfAnswer(answer));
    }

    [Fact]
    public void OfAnswer_AnthropicAnswer_IsItsTextBlocks()
    {
        Assert.Equal("Hi there", ReplayText.OfAnswer("""{"id":"msg_1","content":[{"type":"text","text":"Hi there"}]}"""u8.ToArray()));
    }

    [Fact]
    public void OfAnswer_NoMessageTextOrNotJson_IsTheBytesAsText()
    {
        Assert.Equal("""{"data":[1,2]}""", ReplayText.OfAnswer("""{"data":[1,2]}"""u8.ToArray()));
        Assert.Equal("plain {", ReplayText.OfAnswer(Encoding.UTF8.GetBytes("plain {")));
        Assert.Equal(string.Empty, ReplayText.OfAnswer(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public void Diff_SameText_IsEmpty()
    {
        Assert.Equal(string.Empty, ReplayText.Diff("a\nb\n", "a\nb\n", "original/r", "replay/r"));
    }

    [Fact]
    public void Diff_ChangedLine_IsAUnifiedHunkWithContext()
    {
        var original = string.Join('\n', "one", "two", "three", "four", "five", "six", "seven", "eight");
        var replay = string.Join('\n', "one", "two", "three", "four", "FIVE", "six", "seven", "eight");

        var diff = ReplayText.Diff(original, replay, "original/r1", "replay/replay-r1-1");

        var lines = diff.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("--- original/r1", lines[0]);
        Assert.Equal("+++ replay/replay-r1-1", lines[1]);
        Assert.Equal("@@ -2,7 +2,7 @@", lines[2]);
        Assert.Equal([" two", " three", " four", "-five", "+FIVE", " six", " seven", " eight"], lines[3..]);
    }

    [Fact]
    public void Diff_OneLineAgainstAnother_RemovesAndAdds()
    {
        var lines = ReplayText.Diff("Echo: hi", "Something else", "a", "b").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["--- a", "+++ b", "@@ -1,1 +1,1 @@", "-Echo: hi", "+Something else"], lines);
    }
}
