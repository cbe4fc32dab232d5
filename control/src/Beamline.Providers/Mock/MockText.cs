using System.Text;
using System.Text.Json;
using Beamline.Pipeline;

namespace Beamline.Providers.Mock;

/// <summary>What a mock provider reads from a request: the last user text.</summary>
internal static class MockText
{
    /// <summary>The text of the last user message (OpenAI or Anthropic shape), a CP1 <c>text</c>, or the payload as text.</summary>
    public static string Prompt(PipelineRequest request)
    {
        if (request.PayloadKind == PayloadKind.Text)
        {
            return Encoding.UTF8.GetString(request.Payload.Span);
        }
        if (request.PayloadKind != PayloadKind.Json)
        {
            return string.Empty;
        }
        try
        {
            using var document = JsonDocument.Parse(request.Payload);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.String)
            {
                return root.GetString()!;
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                return string.Empty;
            }
            if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
            {
                for (var i = messages.GetArrayLength() - 1; i >= 0; i--)
                {
                    var message = messages[i];
                    if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var role) && role.ValueEquals("user")
                        && message.TryGetProperty("content", out var content))
                    {
                        return ContentText(content);
                    }
                }
            }
            foreach (var name in (ReadOnlySpan<string>)["input", "prompt", "text"])
            {
                if (root.TryGetProperty(name, out var value))
                {
                    return ContentText(value);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: nothing to echo.
        }
        return string.Empty;
    }

    /// <summary>The echo of <paramref name="prompt"/>.</summary>
    public static string Echo(string prompt) => prompt.Length == 0 ? "Hello from the Beamline mock provider." : "Echo: " + prompt;

    /// <summary>Tokens, counted at four characters a token (at least one for any text).</summary>
    public static int Tokens(string text) => text.Length == 0 ? 0 : Math.Max(1, (text.Length + 3) / 4);

    // A string, or content parts / blocks with text (the last text part), or an array of strings.
    private static string ContentText(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.String)
                    {
                        text.Append(part.GetString());
                    }
                    else if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String)
                    {
                        text.Append(value.GetString());
                    }
                    else if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("content", out var inner))
                    {
                        text.Append(ContentText(inner));
                    }
                }
                return text.ToString();
            default:
                return string.Empty;
        }
    }
}
