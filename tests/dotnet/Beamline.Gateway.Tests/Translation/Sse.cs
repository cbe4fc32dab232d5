using System.Text;
using System.Text.Json;

namespace Beamline.Gateway.Tests.Translation;

/// <summary>One server-sent event as a test reads it.</summary>
internal sealed record SseEvent(string? Name, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    public string? Type => Data.StartsWith('{') && Json.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
}

/// <summary>A plain reader of LF-delimited server-sent events (what the translators write), independent of the code under test.</summary>
internal static class Sse
{
    public static List<SseEvent> Parse(string text)
    {
        var events = new List<SseEvent>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            var data = new List<string>();
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Add(line["data: ".Length..]);
                }
            }
            events.Add(new SseEvent(name, string.Join('\n', data)));
        }
        return events;
    }

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>Feeds <paramref name="stream"/> to <paramref name="translator"/> in the given pieces and returns everything it wrote.</summary>
    public static string Feed(Beamline.Gateway.Translation.IStreamTranslator translator, byte[] stream, IEnumerable<int> cuts)
    {
        var output = new StringBuilder();
        var start = 0;
        foreach (var cut in cuts.Append(stream.Length))
        {
            if (cut < start)
            {
                continue;
            }
            output.Append(Text(translator.Push(stream.AsMemory(start, cut - start))));
            start = cut;
        }
        output.Append(Text(translator.Finish()));
        return output.ToString();
    }

    public static string Feed(Beamline.Gateway.Translation.IStreamTranslator translator, string stream)
        => Feed(translator, Encoding.UTF8.GetBytes(stream), []);

    /// <summary>Builds an SSE stream: each (name, json) as <c>event:</c> (when named) and <c>data:</c> lines.</summary>
    public static string Build(params (string? Name, string Data)[] events)
    {
        var text = new StringBuilder();
        foreach (var (name, data) in events)
        {
            if (name is not null)
            {
                text.Append("event: ").Append(name).Append('\n');
            }
            text.Append("data: ").Append(data).Append("\n\n");
        }
        return text.ToString();
    }
}
