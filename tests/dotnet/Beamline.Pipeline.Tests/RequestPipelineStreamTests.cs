using System.Buffers;
using System.Text;
using Beamline.Pipeline.Providers;
using Beamline.Pipeline.Tests.Extensions;

namespace Beamline.Pipeline.Tests;

/// <summary>Post extensions over a streamed execute: through a stream text codec where the chunks' format has one, else over raw text.</summary>
public sealed class RequestPipelineStreamTests
{
    // The fake built-in "mask" masks the word "secret", holding back a tail that could begin it.
    private const string Masked = """
        {"providers":[{"name":"a","weight":1}],"post":[{"id":"mask","mode":"required"}]}
        """;

    private const string Plain = """{"providers":[{"name":"a","weight":1}]}""";

    [Fact]
    public async Task ExecuteStream_PostOverACodecsFormat_RewritesTheTextAndDrainsWhatWasHeldBackWhereTheTextEnds()
    {
        var codec = new LineCodec();
        var test = new TestPipeline(Masked, builtIns: [new MaskingStreamBuiltIn()], textCodecs: [codec]);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", "role\nt:my sec\n", "t:ret is\nen", "d\nusage\n");

        var (chunks, result) = await Run(test);

        Assert.True(result.IsSuccess);
        Assert.Equal(["role\nt:my \n", "t:****** i\n", "t:s\nend\nusage\n"], chunks.Select(c => c.Text));
        Assert.All(chunks, c => Assert.Equal(WireFormat.OpenAIChat, c.Format));
        Assert.Equal([WireFormat.OpenAIChat], codec.Begun);
    }

    [Fact]
    public async Task ExecuteStream_StreamEndingBeforeItsTextEnds_WritesTheRestAsOneMoreTextEvent()
    {
        var test = new TestPipeline(Masked, builtIns: [new MaskingStreamBuiltIn()], textCodecs: [new LineCodec()]);
        test.Providers.StreamFormat = WireFormat.AnthropicMessages;
        test.Providers.Stream("a", "t:a sec");

        var (chunks, result) = await Run(test);

        Assert.True(result.IsSuccess);
        Assert.Equal(["t:a \nt:sec\n"], chunks.Select(c => c.Text));
    }

    [Fact]
    public async Task ExecuteStream_WithoutPost_PassesChunksUntouchedAndUnread()
    {
        var codec = new LineCodec();
        var test = new TestPipeline(Plain, builtIns: [new MaskingStreamBuiltIn()], textCodecs: [codec]);
        test.Providers.StreamFormat = WireFormat.OpenAIChat;
        test.Providers.Stream("a", "t:a sec", "ret\n");

        var (chunks, _) = await Run(test);

        Assert.Equal(["t:a sec", "ret\n"], chunks.Select(c => c.Text));
        Assert.Empty(codec.Begun);
    }

    [Fact]
    public async Task ExecuteStream_FormatNoCodecReads_PostSeesTheChunksAsRawText()
    {
        var codec = new LineCodec();
        var test = new TestPipeline(Masked, builtIns: [new MaskingStreamBuiltIn()], textCodecs: [codec]);
        test.Providers.Stream("a", "my sec", "ret, ", "sec");

        var (chunks, _) = await Run(test);

        Assert.Equal(["my ", "******, ", "sec"], chunks.Select(c => c.Text));
        Assert.Equal([WireFormat.None], codec.Begun);
    }

    private static async Task<(List<(string Text, WireFormat Format)> Chunks, ExecuteResult Result)> Run(TestPipeline test)
    {
        var chunks = new List<(string, WireFormat)>();
        ExecuteResult? result = null;
        await foreach (var item in test.Pipeline.ExecuteStreamAsync(TestPipeline.Request(), CancellationToken.None))
        {
            if (item.Result is { } final)
            {
                result = final;
            }
            else
            {
                chunks.Add((Encoding.UTF8.GetString(item.Chunk.Span), item.Format));
            }
        }
        return (chunks, result!);
    }

    /// <summary>
    /// A stream of lines for the formats it is given: <c>t:TEXT</c> is text, <c>end</c> ends the
    /// text, any other line passes as it came.
    /// </summary>
    private sealed class LineCodec : IStreamTextCodec
    {
        public List<WireFormat> Begun { get; } = [];

        public IStreamTextSession? Begin(WireFormat format)
        {
            Begun.Add(format);
            return format is WireFormat.OpenAIChat or WireFormat.AnthropicMessages ? new Session() : null;
        }

        private sealed class Session : IStreamTextSession
        {
            private readonly StringBuilder _pending = new();
            private readonly List<StreamTextEvent> _events = [];

            public IReadOnlyList<StreamTextEvent> Push(ReadOnlySpan<byte> chunk)
            {
                _events.Clear();
                _pending.Append(Encoding.UTF8.GetString(chunk));
                var text = _pending.ToString();
                var end = text.LastIndexOf('\n');
                foreach (var line in text[..(end + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    _events.Add(Read(line));
                }
                _pending.Remove(0, end + 1);
                return _events;
            }

            public IReadOnlyList<StreamTextEvent> Complete()
            {
                var events = Push("\n"u8);
                _pending.Clear();
                return events;
            }

            public void WriteText(string text, IBufferWriter<byte> output) => Write(output, "t:" + text);

            private Line Read(string line) => line.StartsWith("t:", StringComparison.Ordinal)
                ? new Line(this, line) { Text = line[2..] }
                : new Line(this, line) { EndsText = line == "end" };

            private static void Write(IBufferWriter<byte> output, string line) => output.Write(Encoding.UTF8.GetBytes(line + "\n"));

            private sealed class Line(Session session, string line) : StreamTextEvent
            {
                public override void WriteTo(IBufferWriter<byte> output, string? text)
                {
                    if (Text is not null)
                    {
                        Write(output, "t:" + text);
                        return;
                    }
                    if (EndsText && !string.IsNullOrEmpty(text))
                    {
                        session.WriteText(text, output);
                    }
                    Write(output, line);
                }
            }
        }
    }
}
