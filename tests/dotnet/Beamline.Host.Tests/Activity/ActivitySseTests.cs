using System.Buffers;
using System.Text;
using System.Text.Json;
using Beamline.Host.Activity;
using Beamline.Pipeline.Activity;

namespace Beamline.Host.Tests.Activity;

public sealed class ActivitySseTests
{
    [Fact]
    public void WriteEvent_FramesIdEventAndOneLineOfJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer);

        ActivitySse.WriteEvent(buffer, json, Event(7, ActivityKinds.Decision, "two\nlines"));
        ActivitySse.WriteEvent(buffer, json, Event(8, ActivityKinds.Final, null));

        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        var frames = text.Split("\n\n");
        Assert.Equal(3, frames.Length);
        Assert.Equal("", frames[2]);
        var first = frames[0].Split('\n');
        Assert.Equal(["id: 7", "event: decision"], first[..2]);
        Assert.StartsWith("data: {", first[2], StringComparison.Ordinal);
        Assert.Equal(3, first.Length);
        using var data = JsonDocument.Parse(first[2]["data: ".Length..]);
        Assert.Equal(7, data.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal("two\nlines", data.RootElement.GetProperty("detail").GetString());
        Assert.StartsWith("id: 8\nevent: final\ndata: {\"seq\":8,", frames[1], StringComparison.Ordinal);
    }

    [Fact]
    public void WriteEvent_KindWithALineBreak_IsLeftOutOfTheFraming()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer);

        ActivitySse.WriteEvent(buffer, json, Event(1, "bad\nevent: forged", null));

        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.StartsWith("id: 1\ndata: {", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\nevent:", text, StringComparison.Ordinal);
        Assert.EndsWith("}\n\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteCommentAndDropped_AreSseFrames()
    {
        var buffer = new ArrayBufferWriter<byte>();

        ActivitySse.WriteComment(buffer, "ping"u8);
        ActivitySse.WriteDropped(buffer, 1234);

        Assert.Equal(": ping\n\nevent: dropped\ndata: {\"dropped\":1234}\n\n", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static ActivityEvent Event(long seq, string kind, string? detail) => new()
    {
        Sequence = seq,
        Time = DateTimeOffset.UnixEpoch,
        Kind = kind,
        TenantId = "tenant_a",
        RequestId = "req",
        Detail = detail,
    };
}
