using System.Text;
using Beamline.Gateway.Translation.Streams;

namespace Beamline.Gateway.Tests.Translation;

public sealed class SseReaderTests
{
    private static List<(string? Name, string Data)> Read(params string[] chunks)
    {
        var reader = new SseReader();
        var events = new List<(string?, string)>();
        foreach (var chunk in chunks)
        {
            reader.Push(Encoding.UTF8.GetBytes(chunk), (name, data) => events.Add((name, Encoding.UTF8.GetString(data))));
        }
        reader.Finish((name, data) => events.Add((name, Encoding.UTF8.GetString(data))));
        return events;
    }

    [Fact]
    public void Events_EndAtBlankLinesOfAnyLineEnding()
        => Assert.Equal([("a", "1"), (null, "2"), (null, "3")], Read("event: a\ndata: 1\n\ndata: 2\r\n\r\ndata: 3\r\r"));

    [Fact]
    public void CrAtTheEndOfAChunk_WaitsForTheNextToKnowIfLfFollows()
        => Assert.Equal([(null, "x"), (null, "y")], Read("data: x\r", "\n\r", "\ndata: y\r\n\r\n"));

    [Fact]
    public void DataLines_JoinWithNewlines_AndTheOptionalSpaceIsRemovedOnce()
        => Assert.Equal([(null, "a\n b\nc")], Read("data: a\ndata:  b\ndata:c\n\n"));

    [Fact]
    public void EventWithoutData_IsNotDispatched_AndItsNameDoesNotLeakIntoTheNext()
        => Assert.Equal([(null, "x")], Read("event: ping\n\n: comment\ndata: x\n\n"));

    [Fact]
    public void UnfinishedEvent_IsDispatchedAtFinish()
        => Assert.Equal([("e", "tail")], Read("event: e\ndata: ta", "il"));

    [Fact]
    public void MultiByteCharacters_SplitAcrossChunks_AreKept()
    {
        var bytes = Encoding.UTF8.GetBytes("data: é€😀\n\n");
        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            var reader = new SseReader();
            var events = new List<string>();
            reader.Push(bytes.AsSpan(0, cut), (_, data) => events.Add(Encoding.UTF8.GetString(data)));
            reader.Push(bytes.AsSpan(cut), (_, data) => events.Add(Encoding.UTF8.GetString(data)));
            Assert.Equal(["é€😀"], events);
        }
    }
}
